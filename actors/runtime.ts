import type { BudgetLedger } from "../src/budget/mod.ts";
import type { Clock, Logger, RandomSource } from "../src/deps/mod.ts";
import type { RunLogLimits } from "../src/config/mod.ts";
import { newRunId, runTraceId } from "../src/deps/mod.ts";
import { AosError } from "../src/errors/mod.ts";
import type { Metrics } from "../src/metrics/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import { type Goal, PLANNER_SKILL } from "../src/planner/mod.ts";
import type { SkillRegistry } from "../src/skills/registry.ts";
import {
  emptyHead,
  headAfter,
  isTerminal,
  type Json,
  type JsonObject,
  type LogRecord,
  type RunStatus,
  sealRecord,
  type SignalRequest,
  type Store,
} from "../src/store/mod.ts";
import {
  HOST_ABI_VERSION,
  messageOf,
  type RunMessage,
  type SkillPin,
} from "./run_messages.ts";
import { EndedRuns } from "./ended_runs.ts";
import { decidedAtCreation } from "./run_creation.ts";
import { type ForkRequest, forkRun } from "./run_fork.ts";
import { ActorStoppedError } from "./actor.ts";
import { type RunActorHandle, startRunActor } from "./run_actor.ts";
import type { StepExecutor } from "./run_ports.ts";
import { fold, reduce, type RunState } from "./run_reducer.ts";
import { type RunView, viewRun } from "./run_view.ts";
import { Supervisor, type SupervisorOptions } from "./supervisor.ts";
import {
  DEFAULT_OWNERSHIP,
  type OwnershipOptions,
  RunOwnership,
} from "./run_ownership.ts";
import { fencedRunStore } from "./run_store.ts";
import { parkedWake } from "./run_park.ts";
import { RunPlanning } from "./run_planning.ts";
import { RecordWatchers } from "./record_watchers.ts";
import { ELSEWHERE_POLL_MS, RunEndWaits } from "./run_end_waits.ts";
import { RelayedResumes } from "./relayed_resumes.ts";
import { RelayedSignals } from "./relayed_signals.ts";
import {
  alreadyFinished,
  notPaused,
  type ResumeAsk,
  resumeRefusal,
  runNotFound,
} from "./run_errors.ts";
import { recordTelemetry, runEndTelemetry } from "./run_telemetry.ts";

/** How long a signal or resume waits for another node to give a run up. */
const ELSEWHERE_WAIT_MS = 30_000;

/** What the runtime is built from. */
export interface RuntimeDeps {
  store: Store;
  /** Tenant-day budgets; runs reserve and settle through it. */
  budget: BudgetLedger;
  registry: SkillRegistry;
  executor: StepExecutor;
  clock: Clock;
  random: RandomSource;
  log: Logger;
  metrics: Metrics;
  supervisor?: Partial<SupervisorOptions>;
  /** How this node holds runs among the nodes sharing the store. */
  ownership?: Partial<OwnershipOptions>;
  /**
   * Paces leases, polling and store retries: operational time, never in a
   * run's log, so a node passes the live clock even when runs see a
   * simulated one. Defaults to `clock`.
   */
  leaseClock?: Clock;
  /** Limits of each run's log; none when absent. */
  logLimits?: RunLogLimits;
}

/**
 * The node's run engine: accepts runs, keeps one supervised actor per
 * unfinished run, and answers questions about runs from their logs.
 */
export class Runtime {
  readonly #deps: RuntimeDeps;
  readonly #planning: RunPlanning;
  readonly #supervisor: Supervisor;
  readonly #actors = new Map<string, RunActorHandle>();
  readonly #endWaits: RunEndWaits;
  readonly #ended = new EndedRuns(ENDED_RUNS_KEPT);
  /** First records of runs created held here whose actor has not started. */
  readonly #created = new Map<string, readonly LogRecord[]>();
  readonly #watchers = new RecordWatchers();
  readonly #ownership: RunOwnership;
  readonly #leaseClock: Clock;
  #closing = false;
  readonly #started = new Map<string, Set<() => void>>();
  /**
   * Runs whose actor stops to park: their wake time, and when the park has
   * landed in the store (a message for the run waits for that).
   */
  readonly #parking = new Map<
    string,
    { wakeAt: number | null; landed: Promise<void>; land: () => void }
  >();
  readonly #parkWatchers = new Map<string, Set<() => void>>();
  /** Cancel requests heard before the run's actor started here. */
  readonly #cancels = new Map<string, string>();
  readonly #relayed: RelayedSignals;
  readonly #resumes: RelayedResumes;

  constructor(deps: RuntimeDeps) {
    this.#deps = deps;
    this.#planning = new RunPlanning(deps);
    this.#leaseClock = deps.leaseClock ?? deps.clock;
    this.#endWaits = new RunEndWaits({
      store: deps.store,
      clock: deps.clock,
      pollClock: this.#leaseClock,
      known: (runId) => this.known(runId),
      holds: (runId) => this.#actors.has(runId),
    });
    const relay = {
      store: deps.store,
      clock: this.#leaseClock,
      random: deps.random,
      log: deps.log,
      waitMs: ELSEWHERE_WAIT_MS,
      pollMs: ELSEWHERE_POLL_MS,
      closing: () => this.#closing,
    };
    this.#relayed = new RelayedSignals({
      ...relay,
      onOutcome: (outcome) => deps.metrics.signalsRelayedTotal.inc({ outcome }),
    });
    this.#resumes = new RelayedResumes({
      ...relay,
      onOutcome: (outcome) => deps.metrics.resumesRelayedTotal.inc({ outcome }),
    });
    this.#ownership = new RunOwnership(
      {
        store: deps.store,
        clock: this.#leaseClock,
        wakeClock: deps.clock,
        log: deps.log,
      },
      { ...DEFAULT_OWNERSHIP, ...deps.ownership },
      {
        claimed: (runId) => {
          this.#supervisor.supervise(runId);
          const release = () => {
            // A cancel heard for this start is in the store still: whichever
            // node holds the run next finds it there (signal and resume
            // requests too).
            this.#cancels.delete(runId);
            this.#relayed.released(runId);
            this.#resumes.released(runId);
            if (!this.#parking.has(runId)) {
              // A run that ended here had its lease cleared by its last append.
              this.#ownership.released(runId, {
                ended: this.#ended.get(runId) !== undefined,
              });
              return;
            }
            const parking = this.#parking.get(runId)!;
            this.#ownership.park(runId, parking.wakeAt).finally(() => {
              this.#parking.delete(runId);
              parking.land();
              for (const wake of this.#parkWatchers.get(runId) ?? []) wake();
            });
          };
          this.#supervisor.settled(runId).then(release, release);
        },
        lost: (runId) => this.#actors.get(runId)?.stop(),
        cancelRequested: (runId, reason) => {
          const handle = this.#actors.get(runId);
          if (handle === undefined) {
            // Starting (or parking): handed over when the actor starts.
            this.#cancels.set(runId, reason);
            return;
          }
          this.#requestCancel(handle, reason);
        },
        signalRequested: (request) =>
          this.#relayed.requested(request, this.#actors.get(request.run_id)),
        resumeRequested: (request) =>
          this.#resumes.requested(request, this.#actors.get(request.run_id)),
      },
    );
    this.#supervisor = new Supervisor(
      {
        start: (runId) => this.#startActor(runId),
        giveUp: (runId, error) => this.#giveUp(runId, error),
      },
      deps,
      deps.supervisor,
    );
  }

  /** Runs with a live actor on this node. */
  get activeRuns(): number {
    return this.#supervisor.ids.length;
  }

  /** Runs this node holds a lease on (and renews); parked runs are not among them. */
  get heldRuns(): number {
    return this.#ownership.held;
  }

  /**
   * Resolves once `runId` is parked by this node: no actor, no lease. A run
   * that has not started waiting yet is waited for.
   */
  async waitForPark(runId: string): Promise<void> {
    let wake!: () => void;
    const parked = new Promise<void>((resolve) => wake = resolve);
    const watchers = this.#parkWatchers.get(runId) ?? new Set();
    watchers.add(wake);
    this.#parkWatchers.set(runId, watchers);
    try {
      const lease = await this.#deps.store.getLease(runId);
      const idle = !this.#actors.has(runId) && !this.#parking.has(runId) &&
        this.#ownership.epoch(runId) === undefined;
      if (lease?.owner === "" && idle) return;
      await parked;
    } finally {
      watchers.delete(wake);
      if (watchers.size === 0) this.#parkWatchers.delete(runId);
    }
  }

  /** This node's name in run leases. */
  get nodeId(): string {
    return this.#ownership.nodeId;
  }

  #runStore(runId: string, epoch: number) {
    return fencedRunStore(this.#deps.store, {
      epoch,
      clock: this.#leaseClock,
      log: this.#deps.log,
      onLeaseLost: () => this.#ownership.lost(runId, "append_refused"),
      closing: () => this.#closing,
    });
  }

  async #startActor(
    runId: string,
  ): Promise<RunActorHandle | { exit: Promise<{ reason: "stopped" }> }> {
    const epoch = this.#ownership.epoch(runId);
    // Only the first start of a run created here may skip reading its log.
    const created = this.#created.get(runId);
    this.#created.delete(runId);
    // The lease is gone (taken over, or the run was dropped): nothing to run.
    if (epoch === undefined) {
      return { exit: Promise.resolve({ reason: "stopped" }) };
    }
    const handle = await startRunActor(runId, {
      planner: this.#planning.planGoal,
      store: this.#runStore(runId, epoch),
      budget: this.#deps.budget,
      executor: this.#deps.executor,
      clock: this.#deps.clock,
      log: this.#deps.log,
      onRecords: (records, state) => this.#observe(records, state),
      observed: () => this.#watchers.watched(runId),
      onIdle: (state) => this.#idle(state),
      onSignalDropped: (request, status) =>
        this.#signalDropped(request, status),
      ...(this.#deps.logLimits === undefined
        ? {}
        : { logLimits: this.#deps.logLimits }),
      ...(created === undefined ? {} : { created }),
    });
    this.#actors.set(runId, handle);
    // A live actor is work: the event loop's delay is sampled meanwhile.
    this.#deps.metrics.eventLoop.workStarted();
    handle.exit.then((exit) => {
      this.#deps.metrics.eventLoop.workEnded();
      if (exit.reason === "crashed") {
        this.#deps.metrics.unhandledExceptionsTotal.inc();
      }
      if (this.#actors.get(runId) === handle) this.#actors.delete(runId);
    });
    const cancel = this.#cancels.get(runId);
    this.#cancels.delete(runId);
    this.#relayed.started(runId, handle);
    this.#resumes.started(runId, handle);
    if (cancel !== undefined) this.#requestCancel(handle, cancel);
    else if (!this.#started.has(runId)) this.#idle(handle.state());
    // A run started for a message waits for it before it may park again.
    for (const wake of this.#started.get(runId) ?? []) wake();
    this.#started.delete(runId);
    return handle;
  }

  #requestCancel(handle: RunActorHandle, reason: string): void {
    if (handle.state().cancel_reason !== null) return;
    handle.actor.ask({ type: "CancelRequested", body: { reason } })
      .catch(() => {
        // the actor ended or crashed; its successor finds the request again
      });
  }

  /**
   * Parks the run when it has nothing to do but wait (see `parkedWake`)
   * long enough: its actor stops, and once it has, its lease is given up
   * for a parked row in the store (see the `claimed` hook).
   */
  #idle(state: RunState): void {
    const runId = state.run_id;
    const handle = this.#actors.get(runId);
    if (
      this.#closing || handle === undefined || handle.actor.backlog > 0 ||
      this.#cancels.has(runId)
    ) return;
    const wake = parkedWake(state);
    if (wake === undefined) return;
    const parkMinMs = this.#ownership.options.parkMinMs;
    if (
      wake.wake_at !== null &&
      wake.wake_at - this.#deps.clock.nowMs() < parkMinMs
    ) return;
    let land!: () => void;
    const landed = new Promise<void>((resolve) => land = resolve);
    this.#parking.set(runId, { wakeAt: wake.wake_at, landed, land });
    handle.stop();
  }

  #observe(records: readonly LogRecord[], state: RunState): void {
    const ended = isTerminal(state.status) && records.length > 0;
    if (ended) {
      this.#ended.add({ state, digest: records[records.length - 1]!.hash });
    }
    for (const record of records) {
      this.#watchers.tell(record);
      const message = messageOf(record);
      recordTelemetry(this.#deps, record, message, state);
      // Long polls return for a paused run too: it waits for someone.
      if (message.type === "RunPaused") this.#endWaits.wake(state.run_id);
    }
    if (!ended) return;
    runEndTelemetry(this.#deps, state);
    this.#endWaits.wake(state.run_id);
  }

  /** A run ended without taking a signal left for it in the store. */
  #signalDropped(request: SignalRequest, status: RunStatus): void {
    this.#deps.metrics.signalRequestsDroppedTotal.inc();
    this.#deps.log.log("warn", "signal_request_dropped", {
      run_id: request.run_id,
      request: request.id,
      signal: request.name,
      status,
    });
  }

  async #giveUp(runId: string, error: unknown): Promise<void> {
    try {
      await this.#failGivenUp(runId, error);
    } catch (failure) {
      // Lease lost or node closing: the run stays unfinished in the store,
      // and whichever node holds it next starts it again.
      this.#deps.log.log("warn", "give_up_not_recorded", {
        run_id: runId,
        error: String(failure),
      });
    }
  }

  async #failGivenUp(runId: string, error: unknown): Promise<void> {
    const epoch = this.#ownership.epoch(runId);
    if (epoch === undefined) return;
    const store = this.#runStore(runId, epoch);
    const records = await store.readLog(runId);
    const state = fold(records.map(messageOf));
    if (state === undefined || isTerminal(state.status)) return;
    const failure = new AosError(
      "SUPERVISOR_GAVE_UP",
      `the run's actor crashed too often: ${String(error)}`,
      {
        details: {
          stack: error instanceof Error ? String(error.stack) : String(error),
        },
      },
    );
    const record = sealRecord(headAfter(records[records.length - 1]!), {
      type: "RunFailed",
      body: {
        step: null,
        error: failure.toRecorded() as unknown as Record<string, never>,
      },
      at: this.#deps.clock.nowMs(),
    });
    const next = reduce(state, messageOf(record)).state;
    // A run given up takes no more signals: those waiting end with it.
    const waiting = await store.waitingSignals(runId);
    await store.append([record], {
      status: next.status,
      delivers: waiting.map((request) => request.id),
    });
    for (const request of waiting) this.#signalDropped(request, next.status);
    // The run ended without releasing what its steps held; settle it as the log says.
    await this.#deps.budget.reconcile([runId]);
    this.#observe([record], next);
  }

  /** Validates a plan against the registry and pins every skill it names. */
  pinPlan(plan: Plan): Record<string, SkillPin> {
    return this.#planning.pinPlan(plan);
  }

  /**
   * Accepts a run: its first record is durable when this resolves, so an
   * accepted run survives a crash of the process right after.
   */
  async submit(
    request: Plan | Goal,
    options: {
      tenant: string;
      /** W3C trace context the run carries on its log lines and outbound calls. */
      traceparent?: string | undefined;
      /**
       * Completes this pending idempotency claim with the response the
       * caller builds from the run id, atomically with the run's creation.
       */
      idempotency?: {
        key: string;
        fingerprint: string;
        response: (runId: string) => JsonObject;
      };
      /** Back-pressure: RUN_QUEUE_FULL when this many runs are unfinished (`RunMeta.unfinishedMax`). */
      unfinishedMax?: number;
    },
  ): Promise<{ run_id: string }> {
    const goal = "goal" in request ? request as Goal : undefined;
    const plan = goal === undefined ? request as Plan : null;
    let pins: Record<string, SkillPin> = {};
    if (plan !== null) pins = this.#planning.pinPlan(plan);
    if (goal?.planner === "llm") {
      pins = {
        [PLANNER_SKILL]: this.#planning.pinSkill(PLANNER_SKILL, "/planner"),
      };
    }
    const { clock, random, store } = this.#deps;
    const runId = newRunId(clock.nowMs(), random);
    const first = sealRecord(emptyHead(runId), {
      type: "RunSubmitted",
      body: {
        tenant: options.tenant,
        plan,
        ...(goal === undefined ? {} : { goal }),
        pins,
        abi: HOST_ABI_VERSION,
        ledger: 2,
        ...(options.traceparent === undefined
          ? {}
          : { traceparent: options.traceparent }),
      } as unknown as Record<string, never>,
      at: clock.nowMs(),
    });
    // Validates the run (folding its first record) and decides its first
    // steps' starts, written with it.
    const decided = decidedAtCreation(
      first,
      () => clock.nowMs(),
      this.#deps.logLimits,
    );
    // Created held by this node when it has room: it starts here at once,
    // without a claim (one write fewer before its first step).
    const lease = this.#ownership.leaseForNew();
    try {
      await store.createRun(first, {
        tenant: options.tenant,
        skills: Object.values(pins).map((pin) => pin.name),
        ...(options.idempotency === undefined ? {} : {
          idempotency: {
            key: options.idempotency.key,
            fingerprint: options.idempotency.fingerprint,
            response: options.idempotency.response(runId),
          },
        }),
        ...(lease === undefined ? {} : { lease }),
        ...(decided.length === 0 ? {} : { decided }),
        ...(options.unfinishedMax === undefined
          ? {}
          : { unfinishedMax: options.unfinishedMax }),
      });
    } catch (error) {
      if (lease !== undefined) this.#ownership.forgo();
      throw error;
    }
    this.#deps.log.log("info", "run_submitted", {
      run_id: runId,
      tenant: options.tenant,
      trace_id: runTraceId(runId, options.traceparent ?? null),
      ...(plan === null
        ? { planner: goal!.planner }
        : { steps: plan.steps.length }),
    });
    // Unheld, whichever node sharing the store claims it first runs it; this
    // one looks at once, the others hear of it through the store.
    if (lease === undefined) this.#ownership.wake();
    else {
      this.#created.set(runId, [first, ...decided]);
      if (!this.#ownership.adopt(runId, lease)) this.#created.delete(runId);
    }
    return { run_id: runId };
  }

  /**
   * Starts holding runs: gives up the leases a previous process under this
   * node's name held, claims unfinished runs nobody holds (up to the node's
   * limit) and keeps claiming as runs arrive or leases expire. Returns how
   * many runs the first claim took.
   */
  async resumeUnfinished(): Promise<number> {
    // Reservations a crash left open are settled as their logs say first.
    await this.#deps.budget.reconcile();
    const count = await this.#ownership.start();
    if (count > 0) this.#deps.log.log("info", "runs_resumed", { count });
    return count;
  }

  /**
   * A run's tenant and status as this node knows them without the store:
   * the run ended here lately, its actor lives here, or it was just created
   * here. Undefined otherwise (ask the store). A run's tenant never changes,
   * and what an actor holds is what its log says, so the answer is the
   * store's.
   */
  known(runId: string): { tenant: string; status: RunStatus } | undefined {
    const state = this.#ended.get(runId)?.state ??
      this.#actors.get(runId)?.state();
    if (state !== undefined) {
      return { tenant: state.tenant, status: state.status };
    }
    const created = this.#created.get(runId);
    if (created === undefined) return undefined;
    const body = created[0]!.body as { tenant?: unknown };
    return { tenant: String(body.tenant), status: "running" };
  }

  /** The run as clients see it, folded from its log; undefined when unknown. */
  async view(runId: string): Promise<RunView | undefined> {
    const ended = this.#ended.get(runId);
    if (ended !== undefined) return viewRun(ended.state, ended.digest);
    const records = await this.#deps.store.readLog(runId);
    const state = fold(records.map(messageOf));
    if (state === undefined) return undefined;
    // A client never learns of a record that is not on disk (a final record
    // was durable when appended, and so was everything before it).
    if (!isTerminal(state.status)) await this.#deps.store.syncBarrier();
    return viewRun(state, records[records.length - 1]!.hash);
  }

  /** The run's log; undefined when the run is unknown. */
  async events(runId: string, fromSeq = 0): Promise<LogRecord[] | undefined> {
    const summary = await this.#deps.store.getRun(runId);
    if (summary === undefined) return undefined;
    const records = await this.#deps.store.readLog(runId, { fromSeq });
    await this.#deps.store.syncBarrier();
    return records;
  }

  /**
   * Calls `listener` with every record this node appends to `runId` from
   * now on; returns the function that stops it. Records appended by other
   * nodes are not seen: readers that must not miss any re-read the store.
   */
  watchRecords(
    runId: string,
    listener: (record: LogRecord) => void,
  ): () => void {
    return this.#watchers.watch(runId, listener);
  }

  /**
   * The first record of `runId` (already in the log, or appended later on
   * this node) that satisfies `predicate`, once it is durable.
   */
  async waitForRecord(
    runId: string,
    predicate: (record: LogRecord) => boolean,
  ): Promise<LogRecord> {
    let unwatch!: () => void;
    const later = new Promise<LogRecord>((resolve) => {
      unwatch = this.#watchers.watch(runId, (record) => {
        if (predicate(record)) resolve(record);
      });
    });
    try {
      const records = await this.#deps.store.readLog(runId);
      const existing = records.find(predicate);
      if (existing !== undefined) {
        // What was read may be committed but not yet on disk.
        await this.#deps.store.syncBarrier();
        return existing;
      }
      return await later;
    } finally {
      unwatch();
    }
  }

  /** Resolves when the run is final or paused, or `timeoutMs` passed, whichever is first. */
  waitForEnd(runId: string, timeoutMs: number): Promise<void> {
    return this.#endWaits.wait(runId, timeoutMs);
  }

  /**
   * Asks a run to stop: scheduling ends, running steps are interrupted, and
   * the run ends `cancelled`. A finished run is RUN_ALREADY_FINISHED; an
   * unknown one RUN_NOT_FOUND.
   */
  async cancel(runId: string, reason: string): Promise<void> {
    const summary = await this.#deps.store.getRun(runId);
    if (summary === undefined) {
      throw runNotFound(runId);
    }
    if (isTerminal(summary.status)) {
      throw alreadyFinished(runId, summary.status);
    }
    const handle = this.#actors.get(runId);
    if (handle !== undefined) {
      await handle.actor.ask({ type: "CancelRequested", body: { reason } });
      return;
    }
    // Held by another node, or between owners: the request waits in the
    // store for whichever node holds the run.
    if (!await this.#deps.store.requestCancel(runId, reason)) {
      throw new AosError(
        "RUN_ALREADY_FINISHED",
        `run ${runId} has already ended`,
        { details: { run_id: runId } },
      );
    }
  }

  /**
   * The live actor of an unfinished run, waiting for it when it is being
   * started; RUN_NOT_FOUND, RUN_ALREADY_FINISHED, or STORE_UNAVAILABLE when
   * no actor of this node holds it.
   */
  async #liveActor(runId: string): Promise<RunActorHandle> {
    const summary = await this.#deps.store.getRun(runId);
    if (summary === undefined) {
      throw runNotFound(runId);
    }
    if (isTerminal(summary.status)) {
      throw alreadyFinished(runId, summary.status);
    }
    // A park under way here lands first, so the run is claimable again.
    await this.#parking.get(runId)?.landed;
    let handle = this.#actors.get(runId);
    const lease = handle === undefined
      ? await this.#leaseWhenFree(runId)
      : undefined;
    if (lease !== undefined && !this.#heldElsewhere(lease)) {
      const now = await this.#deps.store.getRun(runId);
      if (now !== undefined && isTerminal(now.status)) {
        throw alreadyFinished(runId, now.status);
      }
      // Parked, not claimed yet (just submitted, resumed after a restart),
      // or claimed here and starting: this node takes it and starts it.
      let wake!: () => void;
      const started = new Promise<void>((resolve) => wake = resolve);
      const waiting = this.#started.get(runId) ?? new Set();
      waiting.add(wake);
      this.#started.set(runId, waiting);
      if (lease.owner !== this.nodeId) await this.#ownership.claim(runId);
      const timer = this.#leaseClock.delay(ACTOR_START_WAIT_MS);
      await Promise.race([started, timer.done]);
      timer.cancel();
      waiting.delete(wake);
      handle = this.#actors.get(runId);
    }
    if (handle === undefined) {
      throw new AosError(
        "STORE_UNAVAILABLE",
        `run ${runId} is restarting; retry`,
        { details: { run_id: runId } },
      );
    }
    return handle;
  }

  /**
   * The run's lease once no other node holds it: a holder gives the run up
   * as soon as it parks or ends, and the message is then delivered here
   * (claim on release). Waits at most `ELSEWHERE_WAIT_MS` (a step in flight
   * there may take long); the lease read last is returned either way.
   */
  async #leaseWhenFree(
    runId: string,
  ): Promise<{ owner: string; expires_at: number } | undefined> {
    const deadline = this.#leaseClock.nowMs() + ELSEWHERE_WAIT_MS;
    for (;;) {
      const lease = await this.#deps.store.getLease(runId);
      if (
        lease === undefined || !this.#heldElsewhere(lease) || this.#closing ||
        this.#leaseClock.nowMs() >= deadline
      ) return lease;
      await this.#leaseClock.delay(ELSEWHERE_POLL_MS).done;
    }
  }

  /** True when another node holds the run, and this node neither runs nor parks it. */
  async #runningElsewhere(runId: string): Promise<boolean> {
    if (this.#actors.has(runId) || this.#parking.has(runId)) return false;
    const lease = await this.#deps.store.getLease(runId);
    return lease !== undefined && this.#heldElsewhere(lease);
  }

  #heldElsewhere(lease: { owner: string; expires_at: number }): boolean {
    return lease.owner !== "" && lease.owner !== this.nodeId &&
      lease.expires_at > this.#leaseClock.nowMs();
  }

  /**
   * Sends `message` to the run's actor, waking the run when it is parked; a
   * run that ends meanwhile is RUN_ALREADY_FINISHED. An actor that stopped
   * to park before taking the message refused it, so it is sent again.
   */
  async #tell(runId: string, message: RunMessage): Promise<RunState> {
    for (let attempt = 1;; attempt++) {
      const handle = await this.#liveActor(runId);
      try {
        return await handle.actor.ask(message);
      } catch (error) {
        if (!(error instanceof ActorStoppedError)) throw error;
        const summary = await this.#deps.store.getRun(runId);
        if (
          summary === undefined || isTerminal(summary.status) ||
          attempt >= TELL_ATTEMPTS_MAX
        ) throw alreadyFinished(runId, summary?.status ?? "failed");
      }
    }
  }

  /**
   * Appends a signal to the run's log; a `wait_signal` step of that name
   * takes it (signals wait, in order, until one does). A run another node
   * is running gets it through the store (`RelayedSignals`): `queued` when
   * that node had not recorded it within `ELSEWHERE_WAIT_MS`. `request`
   * names it (from an Idempotency-Key): a request the run recorded already
   * is not recorded again, and answers as recorded even once the run has
   * ended.
   */
  async signal(
    runId: string,
    name: string,
    payload: Json,
    options: { request?: string } = {},
  ): Promise<{ status: RunStatus; queued: boolean }> {
    try {
      return await this.#signal(runId, name, payload, options);
    } catch (error) {
      // An earlier try of this request recorded it, and the run has ended
      // since: the signal is in its log.
      const request = options.request;
      if (
        request === undefined || !(error instanceof AosError) ||
        error.code !== "RUN_ALREADY_FINISHED"
      ) throw error;
      const log = await this.#deps.store.readLog(runId);
      const recorded = log.some((record) =>
        record.type === "SignalReceived" && record.body.request === request
      );
      const summary = await this.#deps.store.getRun(runId);
      if (!recorded || summary === undefined) throw error;
      return { status: summary.status, queued: false };
    }
  }

  async #signal(
    runId: string,
    name: string,
    payload: Json,
    options: { request?: string },
  ): Promise<{ status: RunStatus; queued: boolean }> {
    if (await this.#runningElsewhere(runId)) {
      return await this.#relayed.send(runId, name, payload, options);
    }
    const state = await this.#tell(runId, {
      type: "SignalReceived",
      body: {
        name,
        payload,
        ...(options.request === undefined ? {} : { request: options.request }),
      },
    });
    if (state.log_error !== null) throw AosError.fromJSON(state.log_error);
    return { status: state.status, queued: false };
  }

  /**
   * Resumes a paused run: its paused steps get fresh attempts, `params`
   * replace the paused (or named) step's, `budget_cents` the run's budget.
   * A run another node holds (a step still in flight there) gets it
   * through the store (`RelayedResumes`): `queued` when that node had not
   * recorded it within `ELSEWHERE_WAIT_MS`.
   */
  async resumeRun(
    runId: string,
    request: ResumeAsk,
  ): Promise<{ state: RunState; queued: boolean }> {
    const summary = await this.#deps.store.getRun(runId);
    if (summary !== undefined && summary.status !== "paused") {
      throw notPaused(runId, summary.status, request.step ?? null);
    }
    if (await this.#runningElsewhere(runId)) {
      return await this.#resumes.send(runId, request);
    }
    const handle = await this.#liveActor(runId);
    const refusal = resumeRefusal(handle.state(), request);
    if (refusal !== undefined) throw refusal;
    const state = await this.#tell(runId, {
      type: "RunResumed",
      body: request,
    });
    return { state, queued: false };
  }

  /** Starts a fork of a run (see `forkRun`); its first records are durable when this resolves. */
  async fork(
    parentId: string,
    request: ForkRequest,
    options: { tenant: string },
  ): Promise<{ run_id: string; from_seq: number }> {
    const { clock, random, store, registry } = this.#deps;
    const parent = await store.readLog(parentId);
    const summary = await store.getRun(parentId);
    if (
      parent.length === 0 || summary === undefined ||
      summary.tenant !== options.tenant
    ) {
      throw runNotFound(parentId);
    }
    const runId = newRunId(clock.nowMs(), random);
    const { records, state } = forkRun(parent, request, {
      runId,
      pin: (reference) => registry.pin(reference),
    });
    await this.#holdForkReservations(runId, state);
    await store.createRun(records[0]!, { tenant: options.tenant });
    if (records.length > 1) {
      await store.append(records.slice(1), { status: state.status });
    }
    this.#deps.log.log("info", "run_forked", {
      run_id: runId,
      parent: parentId,
      from_step: request.from_step,
      from_seq: records.length,
    });
    // Whichever node sharing the store claims it first runs it.
    this.#ownership.wake();
    return { run_id: runId, from_seq: records.length };
  }

  /**
   * A fork's copied prefix may hold reservations (steps running or about to
   * start at the cut): the fork holds them again under its own run id, so
   * its tenant day counts what the fork re-executes and settling them finds
   * them. When the day has no room the fork is refused and what was granted
   * is freed (the fork has no log, so reconciling settles it at 0).
   */
  async #holdForkReservations(runId: string, state: RunState): Promise<void> {
    if (state.ledger === 0) return;
    const budget = this.#deps.budget;
    for (const step of state.steps) {
      const held = step.reservation;
      if (held === null) continue;
      const answer = await budget.reserve({
        run_id: runId,
        tenant: state.tenant,
        step: step.id,
        attempt: held.attempt,
        cents: held.cents,
      });
      if (answer.granted) continue;
      await budget.reconcile([runId]);
      const left = Math.max(
        0,
        answer.limit_cents - answer.spent_cents - answer.reserved_cents,
      );
      throw new AosError(
        "BUDGET_EXCEEDED",
        `the fork holds ${held.cents} cents for step ${step.id}; tenant ${state.tenant} has ${left} of ${answer.limit_cents} left for ${answer.day}`,
        {
          details: {
            scope: "tenant_day",
            day: answer.day,
            limit_cents: answer.limit_cents,
            spent_cents: answer.spent_cents,
            reserved_cents: answer.reserved_cents,
            estimate_cents: held.cents,
          },
        },
      );
    }
  }

  /**
   * Stops every actor and waits for them; their leases are given up, so
   * their runs resume at once on another node or on the next start.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#endWaits.close();
    await this.#supervisor.shutdown((runId) => this.#actors.get(runId)?.stop());
    await this.#ownership.close();
  }
}

/**
 * Final states kept for the clients that wait on a run's end (`view`): more
 * than the runs a node finishes while its waiters are being answered.
 */
const ENDED_RUNS_KEPT = 256;

/** How long a control request waits for this node to start a run's actor. */
const ACTOR_START_WAIT_MS = 5_000;

/** How often a message is sent again to a run whose actor stopped before taking it. */
const TELL_ATTEMPTS_MAX = 5;
