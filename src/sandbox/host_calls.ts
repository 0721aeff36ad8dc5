import type { HostCallBody, HostCallKind } from "../../actors/run_messages.ts";
import type { HostCallPort } from "../../actors/run_ports.ts";
import { AosError } from "../errors/mod.ts";
import { canonicalJson, type Json, sha256Hex } from "../store/mod.ts";

/** Host calls answered inside the process, which need no barrier. */
const LOCAL_KINDS: ReadonlySet<HostCallKind> = new Set(["now", "random"]);

/**
 * The host calls of one step attempt. Answers already in the log are served
 * first, in order, and must be asked for with the same kind and request;
 * after them, answers are computed live and made durable in the log before
 * the guest sees them. So a step re-run after a crash, or replayed, sees
 * exactly what it saw the first time and repeats no side effect.
 */
export class HostCallJournal {
  readonly #step: string;
  readonly #attempt: number;
  readonly #port: HostCallPort;
  #index = 0;

  constructor(step: string, attempt: number, port: HostCallPort) {
    this.#step = step;
    this.#attempt = attempt;
    this.#port = port;
  }

  /** How many calls were answered so far. */
  get answered(): number {
    return this.#index;
  }

  /** True when every recorded answer was asked for again. */
  get exhausted(): boolean {
    return this.#index >= this.#port.recorded.length;
  }

  /**
   * The answer to the next call. `live` computes a new answer; it runs only
   * when the log holds none for this position, and is told the position
   * (the call's index in the attempt), which a re-execution asks for again.
   */
  async answer(
    kind: HostCallKind,
    request: Json,
    live: (index: number) => Promise<Json> | Json,
  ): Promise<Json> {
    const index = this.#index++;
    const requestSha256 = sha256Hex(canonicalJson(request));
    const recorded = this.#port.recorded[index];
    if (recorded !== undefined) {
      if (recorded.kind !== kind || recorded.request_sha256 !== requestSha256) {
        throw new AosError(
          "HOST_CALL_MISMATCH",
          `host call ${index} of step ${this.#step} is ${kind}, but the log recorded ${recorded.kind} with another request`,
          {
            details: {
              step: this.#step,
              index,
              expected: { kind: recorded.kind, request: recorded.request },
              actual: { kind, request },
            },
          },
        );
      }
      this.#port.served?.(index);
      return recorded.result;
    }
    // An answer that leaves the process (every kind but the clock and the
    // randomness) waits until the step's intent is durable: its
    // StepStarted and every record before it, appended without waiting for
    // the disk, must not be lost once the world has seen the call.
    if (!LOCAL_KINDS.has(kind)) await this.#port.barrier?.();
    const call: HostCallBody = {
      step: this.#step,
      attempt: this.#attempt,
      index,
      kind,
      request,
      request_sha256: requestSha256,
      // The same canonical round trip a recorded answer takes through the
      // log, so the guest sees identical values live and on replay.
      result: JSON.parse(canonicalJson(await live(index))),
    };
    await this.#port.persist(call);
    return call.result;
  }
}

/** A host-call port for replay: the log's answers only, nothing live. */
export function replayPort(
  recorded: readonly HostCallBody[],
  served?: (index: number) => void,
): HostCallPort {
  return {
    recorded,
    ...(served === undefined ? {} : { served }),
    persist(call) {
      return Promise.reject(
        new AosError(
          "HOST_CALL_MISMATCH",
          `replay: the skill made host call ${call.index} (${call.kind}), which the log does not hold`,
          {
            details: {
              step: call.step,
              index: call.index,
              kind: call.kind,
              needs_new_host_call: true,
            },
          },
        ),
      );
    },
  };
}
