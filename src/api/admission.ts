import { AosError } from "../errors/mod.ts";

/** Options of `Admission`. */
export interface AdmissionOptions {
  /** Runs with a live actor on this node right now. */
  activeRuns: () => number;
  /** Most runs the node takes on at once: active plus being accepted. */
  runsActiveMax: number;
  /** What `Retry-After` advises a refused client to wait (seconds). */
  retryAfterS?: number;
}

/**
 * Back-pressure on submissions: a new run is refused with RUN_QUEUE_FULL
 * (429, `Retry-After`) while the node already holds `runsActiveMax` runs,
 * counting those still being accepted. Refusal happens before anything is
 * written, so a run is either refused whole or accepted and kept: nothing
 * accepted is ever dropped. Runs resumed at start are never refused, even
 * past the bound.
 */
export class Admission {
  readonly #options: Required<AdmissionOptions>;
  #accepting = 0;

  constructor(options: AdmissionOptions) {
    this.#options = { retryAfterS: 1, ...options };
  }

  /** Runs `accept` unless the node is full; the slot is held while it runs. */
  async admit<T>(accept: () => Promise<T>): Promise<T> {
    const { activeRuns, runsActiveMax, retryAfterS } = this.#options;
    const active = activeRuns();
    if (active + this.#accepting >= runsActiveMax) {
      throw new AosError(
        "RUN_QUEUE_FULL",
        `this node already runs ${active} runs (limit ${runsActiveMax}); retry later`,
        {
          details: {
            limit: runsActiveMax,
            active,
            accepting: this.#accepting,
            retry_after_s: retryAfterS,
          },
        },
      );
    }
    this.#accepting++;
    try {
      return await accept();
    } finally {
      this.#accepting--;
    }
  }
}
