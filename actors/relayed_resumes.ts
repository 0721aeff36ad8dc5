import { randomHex } from "../src/deps/mod.ts";
import { AosError } from "../src/errors/mod.ts";
import {
  isTerminal,
  type ResumeRequest,
  type Store,
} from "../src/store/mod.ts";
import type { RelayTiming } from "./relayed_signals.ts";
import type { RunActorHandle } from "./run_actor.ts";
import {
  notPaused,
  type ResumeAsk,
  resumeRefusal,
  runNotFound,
} from "./run_errors.ts";
import { messageOf } from "./run_messages.ts";
import { fold, type RunState } from "./run_reducer.ts";

/** What relaying a resume needs of the store. */
export type ResumeRelayStore = Pick<
  Store,
  | "requestResume"
  | "resumeRequestWaiting"
  | "dropResumeRequest"
  | "getRun"
  | "readLog"
>;

export interface RelayedResumesDeps extends RelayTiming {
  store: ResumeRelayStore;
  /** Told what came of each resume this node relayed (for a metric). */
  onOutcome?: (outcome: "recorded" | "queued" | "refused") => void;
}

/** What a relayed resume came to, for its sender. */
export interface ResumeOutcome {
  /** The run as its log says when the sender stopped waiting. */
  state: RunState;
  /**
   * True when the holder had not recorded the resume yet: it waits in the
   * store for whichever node holds the run.
   */
  queued: boolean;
}

/**
 * Resumes of a paused run that another node holds: a paused run with steps
 * still in flight there (one with none parks, and the node asked claims
 * it). The node asked checks the resume against the run's log and leaves
 * it in the store (`Store.requestResume`, one per run), which wakes the
 * nodes; the holder finds it (`Store.pendingResumes`), checks it against
 * its actor's state, and records RunResumed with the request's id, whose
 * append drops the request; one the state refuses it drops. The sender
 * answers once the request is gone: the run, when its log holds the
 * RunResumed, RUN_NOT_PAUSED when it does not; after `waitMs`, the run
 * with `queued: true`.
 */
export class RelayedResumes {
  readonly #deps: RelayedResumesDeps;
  /** Requests for runs whose actor has not started on this node yet. */
  readonly #beforeStart = new Map<string, ResumeRequest>();
  /** Requests being recorded on this node, by id. */
  readonly #recording = new Set<string>();

  constructor(deps: RelayedResumesDeps) {
    this.#deps = deps;
  }

  /** Leaves `ask` for the node holding the paused run `runId` and waits, at most `waitMs`. */
  async send(runId: string, ask: ResumeAsk): Promise<ResumeOutcome> {
    const { store, clock } = this.#deps;
    const refusal = resumeRefusal(await this.#state(runId), ask);
    if (refusal !== undefined) throw refusal;
    const id = `res_${randomHex(this.#deps.random, 12)}`;
    if (!await store.requestResume({ id, run_id: runId, body: ask })) {
      const summary = await store.getRun(runId);
      if (summary === undefined) throw runNotFound(runId);
      if (summary.status !== "paused") {
        throw notPaused(runId, summary.status, ask.step ?? null);
      }
      throw new AosError(
        "RUN_NOT_PAUSED",
        `run ${runId}: a resume sent earlier is on its way to the node running it`,
        {
          details: {
            run_id: runId,
            status: summary.status,
            step: ask.step ?? null,
          },
        },
      );
    }
    const deadline = clock.nowMs() + this.#deps.waitMs;
    const told = this.#deps.onOutcome ?? (() => {});
    for (;;) {
      await clock.delay(this.#deps.pollMs).done;
      // A run that ended meanwhile takes no resume: the request goes.
      const status = (await store.getRun(runId))?.status;
      if (status !== undefined && isTerminal(status)) {
        await store.dropResumeRequest(runId, id);
      }
      if (!await store.resumeRequestWaiting(runId, id)) {
        const records = await store.readLog(runId);
        const state = fold(records.map(messageOf));
        if (state === undefined) throw runNotFound(runId);
        const recorded = records.some((record) =>
          record.type === "RunResumed" && record.body.request === id
        );
        if (recorded) {
          told("recorded");
          return { state, queued: false };
        }
        told("refused");
        throw resumeRefusal(state, ask) ??
          notPaused(runId, state.status, ask.step ?? null);
      }
      if (clock.nowMs() >= deadline || this.#deps.closing()) {
        told("queued");
        return { state: await this.#state(runId), queued: true };
      }
    }
  }

  /**
   * The holder's side: a request found for a run this node holds.
   * `handle` is the run's actor, undefined while it is starting (the
   * request is then recorded by `started`).
   */
  requested(request: ResumeRequest, handle: RunActorHandle | undefined): void {
    if (handle !== undefined) {
      this.#record(handle, request);
      return;
    }
    this.#beforeStart.set(request.run_id, request);
  }

  /** The run's actor started here: records what waited for it. */
  started(runId: string, handle: RunActorHandle): void {
    const waiting = this.#beforeStart.get(runId);
    this.#beforeStart.delete(runId);
    if (waiting !== undefined) this.#record(handle, waiting);
  }

  /** The run left this node: what waited for its actor is its next holder's. */
  released(runId: string): void {
    this.#beforeStart.delete(runId);
  }

  async #state(runId: string): Promise<RunState> {
    const state = fold(
      (await this.#deps.store.readLog(runId)).map(messageOf),
    );
    if (state === undefined) throw runNotFound(runId);
    return state;
  }

  /**
   * Records the request's RunResumed (its append drops the request), or
   * drops a request the run's state refuses. A failure leaves the request
   * in the store for the next pass or the next holder.
   */
  async #record(handle: RunActorHandle, request: ResumeRequest): Promise<void> {
    if (this.#recording.has(request.id)) return;
    this.#recording.add(request.id);
    try {
      if (resumeRefusal(handle.state(), request.body) !== undefined) {
        await this.#deps.store.dropResumeRequest(request.run_id, request.id);
        return;
      }
      await handle.actor.ask({
        type: "RunResumed",
        body: { ...request.body, request: request.id },
      });
    } catch (error) {
      this.#deps.log.log("debug", "resume_request_deferred", {
        run_id: request.run_id,
        request: request.id,
        error: String(error),
      });
    } finally {
      this.#recording.delete(request.id);
    }
  }
}
