import type { Recording, Source } from '../recording.ts'

/** Causal level: which async context resolved what each continuation waited on. */
export class CausalSource implements Source {
  readonly name = 'causal'
  #rec: Recording
  constructor(rec: Recording) {
    this.#rec = rec
  }
  start(): void {
    void this.#rec
  }
  stop(): void {}
}
