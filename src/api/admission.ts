import { AosError } from "../errors/mod.ts";

/** Options of `Admission`. */
export interface AdmissionOptions {
  /** Runs accepted and not yet finished: running, or waiting for a node to claim them. */
  unfinishedRuns: () => Promise<number>;
  /** Most unfinished runs a new submission may join. */
  runsActiveMax: number;
  /** What `Retry-After` advises a refused client to wait (seconds). */
  retryAfterS?: number;
}

/**
 * Back-pressure on submissions: a new run is refused with RUN_QUEUE_FULL
 * (429, `Retry-After`) while `runsActiveMax` runs are unfinished, counting
 * those this node is still accepting. The measure is the store's, so it is
 * the backlog every node sharing the store works off. Refusal happens before
 * anything is written, so a run is either refused whole or accepted and kept:
 * nothing accepted is ever dropped. A submission racing another node's may
 * pass the bound by the handful in flight at that moment; one node never
 * does, because its own in-flight submissions are counted.
 */
export class Admission {
  readonly #options: Required<AdmissionOptions>;
  #accepting = 0;

  constructor(options: AdmissionOptions) {
    this.#options = { retryAfterS: 1, ...options };
  }

  /** Runs `accept` unless the backlog is full; the slot is held while it runs. */
  async admit<T>(accept: () => Promise<T>): Promise<T> {
    const { runsActiveMax, retryAfterS } = this.#options;
    const unfinished = await this.#options.unfinishedRuns();
    // A submission that finished since the count was read may be counted
    // twice; that errs on the side of refusing, never of overfilling.
    if (unfinished + this.#accepting >= runsActiveMax) {
      throw new AosError(
        "RUN_QUEUE_FULL",
        `${unfinished} runs are unfinished (limit ${runsActiveMax}); retry later`,
        {
          details: {
            limit: runsActiveMax,
            unfinished,
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
