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

  intern(value: string): number {
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
