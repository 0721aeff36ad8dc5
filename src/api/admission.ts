import { AosError } from "../errors/mod.ts";

/** Options of `Admission`. */
export interface AdmissionOptions {
  /** Most unfinished runs a new submission may join. */
  runsActiveMax: number;
  /** What `Retry-After` advises a refused client to wait (seconds). */
  retryAfterS?: number;
}

/**
 * Back-pressure on submissions: a new run is refused with RUN_QUEUE_FULL
 * (429, `Retry-After`) while `runsActiveMax` runs are unfinished, counting
 * those this node is still accepting. The measure is the store's, taken by
 * the statement that creates the run (`RunMeta.unfinishedMax`), so it is
 * the backlog every node sharing the store works off, and checking it
 * costs no read of its own. A refused run is written nothing: a run is
 * either refused whole or accepted and kept, and nothing accepted is ever
 * dropped. A submission racing another node's may pass the bound by the
 * handful in flight at that moment; one node never does, because its own
 * in-flight submissions are counted.
 */
export class Admission {
  readonly #options: Required<AdmissionOptions>;
  #accepting = 0;

  constructor(options: AdmissionOptions) {
    this.#options = { retryAfterS: 1, ...options };
  }

  /**
   * Runs `accept` with the bound its run's creation must keep
   * (`unfinishedMax`); the slot is held while it runs.
   */
  async admit<T>(accept: (unfinishedMax: number) => Promise<T>): Promise<T> {
    const { runsActiveMax, retryAfterS } = this.#options;
    // This node's other submissions under way may not be in the store's
    // count yet; those already in it are counted twice, which errs on the
    // side of refusing, never of overfilling.
    const others = this.#accepting;
    this.#accepting++;
    try {
      return await accept(runsActiveMax - others);
    } catch (error) {
      if (!(error instanceof AosError) || error.code !== "RUN_QUEUE_FULL") {
        throw error;
      }
      const unfinished = Number(error.details.unfinished);
      throw new AosError(
        "RUN_QUEUE_FULL",
        `${unfinished} runs are unfinished (limit ${runsActiveMax}); retry later`,
        {
          cause: error,
          details: {
            limit: runsActiveMax,
            unfinished,
            accepting: others,
            retry_after_s: retryAfterS,
          },
        },
      );
    } finally {
      this.#accepting--;
    }
  }
}
