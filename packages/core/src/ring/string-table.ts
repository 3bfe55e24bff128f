/** The longest string kept in a trace, in UTF-16 code units. */
export const MAX_STRING_LENGTH = 2048

/**
 * Interned strings of one segment. Events store string ids (numbers); each
 * segment has its own table, like a Go trace generation, so dropping an older
 * segment never leaves a dangling id in the others.
 */
export class StringTable {
  readonly strings: string[] = []
  #ids = new Map<string, number>()
  /** Approximate bytes held (UTF-16 code units x 2, plus per-entry overhead). */
  bytes = 0

  /** A table holding `strings` (distinct) at their indexes, e.g. a sealed segment's, rebuilt elsewhere. */
  static of(strings: readonly string[]): StringTable {
    const table = new StringTable()
    for (const value of strings) table.intern(value)
    return table
  }

  /** Strings longer than {@link MAX_STRING_LENGTH} are cut there (a 4 KiB URL must not fill the window). */
  intern(value: string): number {
    if (value.length > MAX_STRING_LENGTH) value = `${value.slice(0, MAX_STRING_LENGTH - 1)}…`
    let id = this.#ids.get(value)
    if (id === undefined) {
      id = this.strings.length
      this.strings.push(value)
      this.#ids.set(value, id)
      this.bytes += value.length * 2 + 48
    }
    return id
  }

  get(id: number): string {
    return this.strings[id] ?? ''
  }
}
