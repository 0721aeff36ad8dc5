import {
  type Clock,
  type Logger,
  randomHex,
  type RandomSource,
} from "../src/deps/mod.ts";
import type { AosError } from "../src/errors/mod.ts";
import {
  isTerminal,
  type Json,
  type RunStatus,
  type SignalRequest,
  type Store,
} from "../src/store/mod.ts";
import type { RunActorHandle } from "./run_actor.ts";
import { alreadyFinished, runNotFound } from "./run_errors.ts";

/** What relaying needs of the store. */
export type RelayStore = Pick<
  Store,
  | "requestSignal"
  | "signalRequestWaiting"
  | "dropSignalRequest"
  | "getRun"
  | "readLog"
>;

/** How a message relayed through the store is waited for by its sender. */
export interface RelayTiming {
  /** The live clock the sender's look at the store runs on. */
  clock: Clock;
  random: RandomSource;
  log: Logger;
  /** How long a sender waits for the holder to record its message. */
  waitMs: number;
  /** How often the sender looks. */
  pollMs: number;
  /** True once the node is closing: a sender stops waiting. */
  closing: () => boolean;
}

export interface RelayedSignalsDeps extends RelayTiming {
  store: RelayStore;
  /** Told what came of each signal this node relayed (for a metric). */
  onOutcome?: (outcome: "recorded" | "queued" | "refused") => void;
}

/** What a relayed signal came to, for its sender. */
export interface RelayOutcome {
  /** The run's status when the sender stopped waiting. */
  status: RunStatus;
  /**
   * True when the holder had not recorded the signal yet: it waits in the
   * store, and whichever node holds the run next records it.
   */
  queued: boolean;
}

/**
 * Signals for a run that another node is running (a step in flight there).
 * The node asked leaves the signal in the store (`Store.requestSignal`),
 * which wakes the nodes; the holder finds it (`Store.pendingSignals`) and
 * records it through the run's actor with the request's id, whose append
 * drops the request. The id in the run's state makes a second delivery a
 * no-op: each request is recorded once. A run does not end while a
 * request waits: its actor records them first (or, past its end, drops
 * them with it). The sender answers once the request is gone, so its
 * answer still means "in the run's log", as for a run held where it asked.
 */
export class RelayedSignals {
  readonly #deps: RelayedSignalsDeps;
  /** Requests for runs whose actor has not started on this node yet. */
  readonly #beforeStart = new Map<string, SignalRequest[]>();
  /** Requests being recorded on this node, by id. */
  readonly #recording = new Set<string>();

  constructor(deps: RelayedSignalsDeps) {
    this.#deps = deps;
  }

  /**
   * Leaves a signal for the node holding `runId` and waits until it is
   * recorded, at most `waitMs`. RUN_NOT_FOUND or RUN_ALREADY_FINISHED when
   * the run is gone or ends first (the request is dropped then).
   * `request` names the request (one derived from an Idempotency-Key); by
   * default it is random.
   */
  async send(
    runId: string,
    name: string,
    payload: Json,
    options: { request?: string } = {},
  ): Promise<RelayOutcome> {
    const { store, clock } = this.#deps;
    const id = options.request ?? requestId(this.#deps.random);
    let stored: boolean;
    try {
      stored = await store.requestSignal({ id, run_id: runId, name, payload });
    } catch (error) {
      // A request of this id waits already (an earlier try of the same
      // Idempotency-Key): this one waits for it.
      if (
        options.request === undefined || !await store.signalRequestWaiting(id)
      ) {
        throw error;
      }
      stored = true;
    }
    if (!stored) throw gone(runId, (await store.getRun(runId))?.status);
    const deadline = clock.nowMs() + this.#deps.waitMs;
    const told = this.#deps.onOutcome ?? (() => {});
    for (;;) {
      await clock.delay(this.#deps.pollMs).done;
      const waiting = await store.signalRequestWaiting(id);
      const status = (await store.getRun(runId))?.status;
      if (status === undefined) throw gone(runId, status);
      // A run records the requests waiting for it before it ends, unless it
      // ended before it could take them (they are dropped with its end):
      // once it has ended, its log says which.
      if (isTerminal(status)) {
        if (waiting) await store.dropSignalRequest(id);
        const log = await store.readLog(runId);
        if (
          !log.some((record) =>
            record.type === "SignalReceived" && record.body.request === id
          )
        ) {
          told("refused");
          throw gone(runId, status);
        }
      }
      if (!waiting || isTerminal(status)) {
        told("recorded");
        return { status, queued: false };
      }
      if (clock.nowMs() >= deadline || this.#deps.closing()) {
        told("queued");
        return { status, queued: true };
      }
    }
  }

  /**
   * The holder's side: a request found for a run this node holds.
   * `handle` is the run's actor, undefined while it is starting (the
   * request is then recorded by `started`).
   */
  requested(request: SignalRequest, handle: RunActorHandle | undefined): void {
    if (handle !== undefined) {
      this.#record(handle, request);
      return;
    }
    const waiting = this.#beforeStart.get(request.run_id) ?? [];
    if (!waiting.some((other) => other.id === request.id)) {
      waiting.push(request);
    }
    this.#beforeStart.set(request.run_id, waiting);
  }

  /** The run's actor started here: records what waited for it. */
  started(runId: string, handle: RunActorHandle): void {
    const waiting = this.#beforeStart.get(runId);
    this.#beforeStart.delete(runId);
    for (const request of waiting ?? []) this.#record(handle, request);
  }

  /** The run left this node: what waited for its actor is its next holder's. */
  released(runId: string): void {
    this.#beforeStart.delete(runId);
  }

  /**
   * Records the request's signal (unless the run's state has it already)
   * and drops the request. Requests of a run are asked of its actor in the
   * order they are found, and its mailbox keeps that order. A failure
   * leaves the request in the store for the next pass or the next holder.
   */
  async #record(handle: RunActorHandle, request: SignalRequest): Promise<void> {
    if (this.#recording.has(request.id)) return;
    this.#recording.add(request.id);
    try {
      if (handle.state().signal_requests.includes(request.id)) {
        // Recorded by a node that dropped requests apart from their
        // records: the request only needs dropping.
        await this.#deps.store.dropSignalRequest(request.id);
        return;
      }
      // The append of its record drops the request (`AppendOptions.delivers`).
      // Should the log's limit end the run instead, nothing is recorded,
      // and the sender finds the run ended.
      await handle.actor.ask({
        type: "SignalReceived",
        body: {
          name: request.name,
          payload: request.payload,
          request: request.id,
        },
      });
    } catch (error) {
      this.#deps.log.log("debug", "signal_request_deferred", {
        run_id: request.run_id,
        request: request.id,
        error: String(error),
      });
    } finally {
      this.#recording.delete(request.id);
    }
  }
}

function requestId(random: RandomSource): string {
  return `sig_${randomHex(random, 12)}`;
}

function gone(runId: string, status: RunStatus | undefined): AosError {
  return status === undefined
    ? runNotFound(runId)
    : alreadyFinished(runId, status);
}
