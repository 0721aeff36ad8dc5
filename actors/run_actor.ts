import {
  type AppendOptions,
  type BudgetAnswer,
  type BudgetReservationRequest,
  headAfter,
  isTerminal,
  type JsonObject,
  type LogHead,
  type LogMark,
  type LogRecord,
  ReservationNotGranted,
  sealRecord,
  type SignalRequest,
} from "../src/store/mod.ts";
import { AosError } from "../src/errors/mod.ts";
import {
  Actor,
  type ActorExit,
  ActorStoppedError,
  type Behavior,
} from "./actor.ts";
import { messageOf, type RunMessage } from "./run_messages.ts";
import { type Effect, reduce, resume, type RunState } from "./run_reducer.ts";
import { recordBytes, recoverRun, snapshotOf } from "./run_snapshot.ts";
import { RunPublisher } from "./run_publisher.ts";
import type { HostCallPort, RunActorDeps } from "./run_ports.ts";

/**
 * Messages that only continue the run's own work (a step's start decided
 * when the actor starts, a reservation's answer, a step's outcome): their
 * batch is appended without waiting for the disk
 * unless it changes the run's status. Nothing outside the process depends
 * on such a record until a barrier (`HostCallPort.barrier`, the observers'
 * wait) or a later durable write of the run makes it durable, and after a
 * crash that loses it the run redoes the work: a pure step gives the same
 * output, and an effect step sent nothing whose intent was not durable
 * (docs/ARCHITECTURE.md, "Durable before observed").
 */
const CONTINUATIONS: ReadonlySet<RunMessage["type"]> = new Set([
  "StepStarted",
  "BudgetReserved",
  "BudgetRefused",
  "StepSucceeded",
  "StepFailed",
]);

/**
 * Tries of an end refused because signal requests wait: each one seals the
 * requests found, so only requests that keep coming meanwhile exhaust them
 * (the actor then crashes, and its supervisor starts it again).
 */
const END_ATTEMPTS_MAX = 5;

/** The message of a signal request left in the store for the run. */
function signalOf(request: SignalRequest): RunMessage {
  return {
    type: "SignalReceived",
    body: {
      name: request.name,
      payload: request.payload,
      request: request.id,
    },
  };
}

/** A step attempt's ask for budget. */
interface ReservationAsked {
  step: string;
  attempt: number;
  cents: number;
}

/** Records sealed and folded but not yet appended. */
interface Batch {
  records: LogRecord[];
  effects: Effect[];
  state: RunState;
  head: LogHead;
  bytes: number;
}

/**
 * The effectful shell around `reduce`: seals each message into a record,
 * appends it (with any decisions the reducer takes on it, in the same
 * transaction) before anything acts on it, then carries out the effects.
 */
class RunBehavior implements Behavior<RunMessage, RunState> {
  actor!: Actor<RunMessage, RunState>;
  #state: RunState;
  #head: LogHead;
  #logBytes: number;
  #snapshotSeq: number;
  readonly #deps: RunActorDeps;
  readonly #timers = new Map<
    string,
    { done: Promise<void>; cancel: () => void }
  >();
  readonly #executions = new Map<string, AbortController>();
  /**
   * Reservations asked for and not yet in the log, by `step#attempt`: the
   * store's request, made by the append of the BudgetReserved it awaits.
   */
  readonly #reserving = new Map<string, BudgetReservationRequest>();
  /** Set once the actor has exited. */
  #released = false;
  /** Tells observers of the appended records once they are durable. */
  readonly #publisher: RunPublisher | undefined;

  constructor(
    state: RunState,
    head: LogHead,
    deps: RunActorDeps,
    log: { bytes: number; snapshotSeq: number },
  ) {
    this.#state = state;
    this.#head = head;
    this.#deps = deps;
    this.#logBytes = log.bytes;
    this.#snapshotSeq = log.snapshotSeq;
    const onRecords = deps.onRecords;
    if (onRecords !== undefined) {
      this.#publisher = new RunPublisher({
        store: deps.store,
        onRecords,
        observed: () => deps.observed?.() === true,
        mark: () => this.#mark(),
        onLost: (error) => this.actor.crash(error),
      });
    }
  }

  get state(): RunState {
    return this.#state;
  }

  async receive(message: RunMessage): Promise<RunState> {
    // A signal request recorded already (a retry with the same
    // Idempotency-Key, a relayed request found again) is not recorded twice.
    if (
      message.type === "SignalReceived" &&
      message.body.request !== undefined &&
      this.#state.signal_requests.includes(message.body.request)
    ) {
      if (this.actor.backlog === 0) this.#deps.onIdle?.(this.#state);
      return this.#state;
    }
    const empty = this.#emptyBatch();
    let batch = this.#seal(message, empty);
    const limits = this.#deps.logLimits;
    if (limits !== undefined && this.#state.log_error === null) {
      const records = this.#state.records + batch.records.length;
      const bytes = this.#logBytes + batch.bytes;
      if (records > limits.hardRecords || bytes > limits.hardBytes) {
        // The store never takes this batch: the run fails instead, with a
        // record small enough that the limit is passed by it alone.
        batch = this.#seal({
          type: "LogSizeExceeded",
          body: {
            records,
            bytes,
            records_max: limits.hardRecords,
            bytes_max: limits.hardBytes,
          },
        }, empty);
      } else if (
        (records > limits.softRecords || bytes > limits.softBytes) &&
        !batch.state.log_warned && !isTerminal(batch.state.status)
      ) {
        batch = this.#seal({
          type: "LogSizeWarning",
          body: {
            records,
            bytes,
            records_max: limits.softRecords,
            bytes_max: limits.softBytes,
          },
        }, batch);
      }
    }
    // The reservation a BudgetReserved was sealed for is made by its append
    // (not when the log's limit replaced the batch: nothing is reserved
    // then). A step this message makes ready reserves with the same append:
    // its BudgetReserved is sealed after the message's records, and when
    // the store does not grant it the batch records the answer instead.
    let asked: ReservationAsked | undefined;
    let reservation: BudgetReservationRequest | undefined;
    let unfolded: Batch | undefined;
    if (
      message.type === "BudgetReserved" &&
      batch.records[0]?.type === "BudgetReserved"
    ) {
      asked = message.body;
      reservation = this.#reserving.get(`${asked.step}#${asked.attempt}`);
    } else {
      const folded = this.#foldReservation(batch);
      if (folded !== undefined) {
        ({ asked, reservation, unfolded } = folded);
        batch = folded.batch;
      }
    }
    let early = this.#launchEarly(batch.effects);
    let durable: boolean;
    try {
      durable = await this.#append(message, batch, reservation);
    } catch (error) {
      // The steps started early never started: their outcomes are dropped.
      early?.settle(false);
      early = undefined;
      if (error instanceof AosError && error.code === "STORE_SIGNALS_WAITING") {
        ({ batch, durable } = await this.#endAfterWaitingSignals(
          message,
          batch,
          reservation,
        ));
      } else if (
        !(asked && reservation && error instanceof ReservationNotGranted)
      ) {
        throw error;
      } else {
        // Refused, or held from an earlier start on another day: the run
        // records what the store answered instead (nothing was written).
        if (unfolded === undefined) {
          this.#reserving.delete(`${asked.step}#${asked.attempt}`);
          return await this.receive(answerMessage(asked, error.answer));
        }
        batch = this.#seal(answerMessage(asked, error.answer), unfolded);
        durable = await this.#append(message, batch, undefined);
      }
    }
    const { records, effects, state, head } = batch;
    this.#state = state;
    this.#head = head;
    this.#logBytes += batch.bytes;
    early?.settle(true);
    this.#publisher?.appended(records, state, durable);
    this.carryOut(
      early === undefined
        ? effects
        : effects.filter((effect) => !early!.launched.has(effect)),
    );
    await this.#snapshot();
    if (this.actor.backlog === 0) this.#deps.onIdle?.(this.#state);
    return this.#state;
  }

  /**
   * Starts the steps among `effects` whose skills stay in the process
   * before their batch is appended, so that a step's call overlaps its
   * StepStarted's commit. Nothing of such a step leaves the actor before
   * `settle(true)`, called once the batch is appended and the actor's head
   * is past it: its outcome and its host-call answers are asked of the
   * actor (so sealed after the batch), its barrier waits for it too.
   * `settle(false)` (the batch was refused or failed) aborts the steps and
   * drops whatever they produce. Undefined when no step can start early.
   */
  #launchEarly(effects: readonly Effect[]):
    | { launched: ReadonlySet<Effect>; settle: (appended: boolean) => void }
    | undefined {
    const executor = this.#deps.executor;
    if (executor.staysInProcess === undefined) return undefined;
    let launched: Set<Effect> | undefined;
    const controllers: [string, AbortController][] = [];
    let settle!: (appended: boolean) => void;
    let appended: Promise<boolean> | undefined;
    for (const effect of effects) {
      if (effect.kind !== "RunStep" || !executor.staysInProcess(effect.pin)) {
        continue;
      }
      appended ??= new Promise<boolean>((resolve) => settle = resolve);
      launched ??= new Set();
      launched.add(effect);
      controllers.push([effect.step, this.#launch(effect, appended)]);
    }
    if (launched === undefined) return undefined;
    return {
      launched,
      settle: (ok) => {
        settle(ok);
        if (ok) return;
        for (const [step, controller] of controllers) {
          if (this.#executions.get(step) === controller) {
            this.#executions.delete(step);
          }
          controller.abort();
        }
      },
    };
  }

  /**
   * The store refused `refused`, an end, because signals sent through other
   * nodes wait for the run (STORE_SIGNALS_WAITING): the batch is sealed
   * again with them first, in the order they came (a relayed `message` in
   * its place among them), each with the decisions it brings, then
   * `message`, and appended delivering them. Requests the run cannot take
   * any more (it ended before them, or its log is full) are dropped with the
   * end, with a warning. Tried again while new requests keep coming.
   */
  async #endAfterWaitingSignals(
    message: RunMessage,
    refused: Batch,
    reservation: BudgetReservationRequest | undefined,
  ): Promise<{ batch: Batch; durable: boolean }> {
    const runId = this.#state.run_id;
    const own = message.type === "SignalReceived"
      ? message.body.request
      : undefined;
    for (let attempt = 1;; attempt++) {
      const waiting = await this.#deps.store.waitingSignals(runId);
      let batch = refused;
      if (refused.records[0]?.type !== "LogSizeExceeded") {
        batch = this.#emptyBatch();
        let sealed = false;
        for (const request of waiting) {
          if (isTerminal(batch.state.status)) break;
          if (request.id === own) {
            batch = this.#seal(message, batch);
            sealed = true;
          } else if (!batch.state.signal_requests.includes(request.id)) {
            batch = this.#seal(signalOf(request), batch);
          }
        }
        if (!sealed && !isTerminal(batch.state.status)) {
          batch = this.#seal(message, batch);
        }
        const limits = this.#deps.logLimits;
        if (
          limits !== undefined &&
          (this.#state.records + batch.records.length > limits.hardRecords ||
            this.#logBytes + batch.bytes > limits.hardBytes)
        ) batch = refused;
      }
      try {
        const delivers = waiting.map((request) => request.id);
        const durable = await this.#append(
          message,
          batch,
          reservation,
          delivers,
        );
        for (const request of waiting) {
          if (batch.state.signal_requests.includes(request.id)) continue;
          this.#deps.onSignalDropped?.(request, batch.state.status);
        }
        return { batch, durable };
      } catch (error) {
        if (
          !(error instanceof AosError) ||
          error.code !== "STORE_SIGNALS_WAITING" ||
          attempt >= END_ATTEMPTS_MAX
        ) throw error;
      }
    }
  }

  #emptyBatch(): Batch {
    return {
      records: [],
      effects: [],
      state: this.#state,
      head: this.#head,
      bytes: 0,
    };
  }

  /**
   * Appends `batch`, sealed from `message`, with the budget writes it
   * carries: `reservation` and the settlements its releases ask for, in
   * the same transaction, so a run's tenant day is up to date when its
   * records are (before anyone hears of them). The requests its
   * SignalReceived and RunResumed records carry, and `delivers`, stop
   * waiting with it.
   * True when it waited for the disk.
   */
  async #append(
    message: RunMessage,
    batch: Batch,
    reservation: BudgetReservationRequest | undefined,
    delivers: readonly string[] = [],
  ): Promise<boolean> {
    const { records, effects, state } = batch;
    const statusChanged = state.status !== this.#state.status;
    const durable = statusChanged || !CONTINUATIONS.has(message.type);
    const options: AppendOptions = statusChanged
      ? { status: state.status }
      : durable
      ? {}
      : { durable: false };
    if (reservation !== undefined) options.reservation = reservation;
    const settlements = effects.flatMap((effect) =>
      effect.kind === "SettleBudget"
        ? [this.#deps.budget.settlement({ run_id: state.run_id, ...effect })]
        : []
    );
    if (settlements.length > 0) options.settlements = settlements;
    const charges = effects.flatMap((effect) =>
      effect.kind === "BookCharge"
        ? [this.#deps.budget.charge({
          run_id: state.run_id,
          tenant: state.tenant,
          ...effect,
        })]
        : []
    );
    if (charges.length > 0) options.charges = charges;
    // Each id once: the stores count the requests an append delivers.
    let delivered = delivers.length > 0 ? [...delivers] : undefined;
    for (const record of records) {
      const request =
        record.type === "SignalReceived" || record.type === "RunResumed"
          ? record.body.request
          : undefined;
      if (typeof request === "string" && !delivered?.includes(request)) {
        (delivered ??= []).push(request);
      }
    }
    if (delivered !== undefined) options.delivers = delivered;
    await this.#deps.store.append(records, options);
    return durable;
  }

  /**
   * `batch` with the BudgetReserved of the first step it makes ready (and
   * the decisions after it) sealed on, and the reservation for its append
   * to make; undefined when it makes none ready, or when the records would
   * pass the log's soft limit (the step then reserves on its own).
   * `unfolded` is the batch without that step's ask, for its answer.
   */
  #foldReservation(batch: Batch):
    | {
      batch: Batch;
      unfolded: Batch;
      asked: ReservationAsked;
      reservation: BudgetReservationRequest;
    }
    | undefined {
    if (isTerminal(batch.state.status)) return undefined;
    const effect = batch.effects.find((effect) =>
      effect.kind === "ReserveBudget" &&
      !this.#reserving.has(`${effect.step}#${effect.attempt}`)
    );
    if (effect?.kind !== "ReserveBudget") return undefined;
    const { step, attempt, cents } = effect;
    const { run_id, tenant } = batch.state;
    const reservation = this.#deps.budget.request({
      run_id,
      tenant,
      step,
      attempt,
      cents,
    });
    const unfolded = {
      ...batch,
      effects: batch.effects.filter((other) => other !== effect),
    };
    const folded = this.#seal({
      type: "BudgetReserved",
      body: { step, attempt, cents, day: reservation.day },
    }, unfolded);
    const limits = this.#deps.logLimits;
    if (
      limits !== undefined &&
      (this.#state.records + folded.records.length > limits.softRecords ||
        this.#logBytes + folded.bytes > limits.softBytes)
    ) return undefined;
    return {
      batch: folded,
      unfolded,
      asked: { step, attempt, cents },
      reservation,
    };
  }

  /**
   * The barrier before a call leaves the process. An actor that has exited
   * (its records may be lost) lets nothing leave.
   */
  async #barrier(): Promise<void> {
    if (this.#released) throw new ActorStoppedError(this.#state.run_id);
    await this.#deps.store.syncBarrier(this.#mark());
    if (this.#released) throw new ActorStoppedError(this.#state.run_id);
  }

  /** The run's last appended record, for a barrier to check. */
  #mark(): LogMark {
    return {
      run_id: this.#head.run_id,
      seq: this.#head.next_seq - 1,
      hash: this.#head.last_hash,
    };
  }

  /** Seals `message` and the decisions the reducer takes after it onto `batch`. */
  #seal(message: RunMessage, batch: Batch): Batch {
    const records = batch.records.slice();
    const effects = batch.effects.slice();
    let { state, head, bytes } = batch;
    let next: RunMessage | undefined = message;
    while (next !== undefined) {
      const record = sealRecord(head, {
        type: next.type,
        body: next.body as unknown as JsonObject,
        at: this.#deps.clock.nowMs(),
      });
      const reduction = reduce(state, messageOf(record));
      records.push(record);
      bytes += recordBytes(record);
      state = reduction.state;
      head = headAfter(record);
      next = undefined;
      for (const effect of reduction.effects) {
        if (effect.kind === "AppendMessage") next = effect.message;
        else effects.push(effect);
      }
    }
    return { records, effects, state, head, bytes };
  }

  /**
   * Saves the state every `snapshotEveryRecords` records. A snapshot only
   * saves work on recovery, so failing to write one is logged, not fatal.
   */
  async #snapshot(): Promise<void> {
    const every = this.#deps.logLimits?.snapshotEveryRecords;
    const store = this.#deps.store;
    if (every === undefined || store.putSnapshot === undefined) return;
    const seq = this.#head.next_seq - 1;
    if (seq - this.#snapshotSeq < every || isTerminal(this.#state.status)) {
      return;
    }
    try {
      // A snapshot must name a record that is on disk (and, after a
      // database restart, still in the log).
      const head = this.#head;
      const state = this.#state;
      const logBytes = this.#logBytes;
      await store.syncBarrier(this.#mark());
      await store.putSnapshot(snapshotOf(state, head, logBytes));
      this.#snapshotSeq = seq;
    } catch (error) {
      this.#deps.log.log("warn", "snapshot_failed", {
        run_id: this.#state.run_id,
        seq,
        error: String(error),
      });
    }
  }

  carryOut(effects: readonly Effect[]): void {
    for (const effect of effects) {
      if (effect.kind === "RunStep") this.#launch(effect);
      else if (effect.kind === "PlanRun") this.#plan(effect);
      else if (effect.kind === "StartTimer") {
        this.#startTimer(effect.timer_id, effect.due_at);
      } else if (effect.kind === "CancelTimer") {
        const timer = this.#timers.get(effect.timer_id);
        this.#timers.delete(effect.timer_id);
        timer?.cancel();
      } else if (effect.kind === "CancelSteps") {
        for (const step of effect.steps) this.#executions.get(step)?.abort();
      } else if (effect.kind === "ReserveBudget") this.#reserve(effect);
      else if (effect.kind === "FinishRun") this.stop();
    }
  }

  /**
   * Asks the run to record a reservation as granted: the append of its
   * BudgetReserved makes it (see `receive`), and a refusal there records
   * the store's answer instead. The reducer repeats the ask on every
   * message until the answer is in the log, so asks already under way are
   * not sent twice.
   */
  #reserve(effect: Extract<Effect, { kind: "ReserveBudget" }>): void {
    const { step, attempt, cents } = effect;
    const asking = `${step}#${attempt}`;
    if (this.#reserving.has(asking)) return;
    const { run_id, tenant } = this.#state;
    const request = this.#deps.budget.request({
      run_id,
      tenant,
      step,
      attempt,
      cents,
    });
    this.#reserving.set(asking, request);
    this.actor.ask({
      type: "BudgetReserved",
      body: { step, attempt, cents, day: request.day },
    })
      .catch(async (error) => {
        if (!(error instanceof ActorStoppedError)) {
          this.actor.crash(error);
          return;
        }
        // A run that ended before its BudgetReserved was appended may still
        // hold the reservation (one of cents is made before its append):
        // the ledger frees it. A run that is only restarting asks again and
        // gets the same reservation back.
        if (cents !== 0) await this.#deps.budget.reconcile([run_id]);
      })
      .finally(() => this.#reserving.delete(asking))
      .catch((error) =>
        this.#deps.log.log("error", "budget_reserve_lost", {
          run_id,
          step,
          attempt,
          error: String(error),
        })
      );
  }

  /** Stops the actor; `release` follows when it has exited. */
  stop(): void {
    this.actor.stop();
  }

  /** Cancels what the actor started (timers, executions) once it has exited, however it exited. */
  release(): void {
    this.#released = true;
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    for (const execution of this.#executions.values()) execution.abort();
    this.#executions.clear();
  }

  /**
   * Arms a durable timer: its due time is in the log, so after a restart it
   * fires at that time, not at restart time plus the delay; one already due
   * fires at once.
   */
  #startTimer(timerId: string, dueAt: number): void {
    const leftMs = dueAt - this.#deps.clock.nowMs();
    // One already due (a parked run woken by it) fires without a clock wait.
    const delay = leftMs > 0
      ? this.#deps.clock.delay(leftMs)
      : { done: Promise.resolve(), cancel: () => {} };
    this.#timers.set(timerId, delay);
    delay.done.then(() => {
      if (this.#timers.get(timerId) !== delay) return;
      this.#timers.delete(timerId);
      return this.actor.ask({ type: "TimerFired", body: { timer_id: timerId } })
        .then(() => {});
    }).catch((error) => {
      if (error instanceof ActorStoppedError) return;
      this.actor.crash(error);
    });
  }

  #plan(effect: Extract<Effect, { kind: "PlanRun" }>): void {
    const hostCalls: HostCallPort = {
      recorded: effect.recorded,
      persist: async (call) => {
        await this.actor.ask({ type: "HostCall", body: call });
      },
      barrier: () => this.#barrier(),
    };
    this.#deps.planner({
      run_id: this.#state.run_id,
      goal: effect.goal,
      pin: effect.pin,
      hostCalls,
    }).then((outcome) =>
      this.actor.ask(
        outcome.ok
          ? {
            type: "PlanProduced",
            body: {
              plan: outcome.plan,
              pins: outcome.pins,
              planner: outcome.planner,
            },
          }
          : { type: "PlanFailed", body: { error: outcome.error } },
      )
    ).catch((error) => {
      if (error instanceof ActorStoppedError) return;
      this.actor.crash(error);
    });
  }

  /**
   * Starts a step's execution. With `appended` (a start before its batch is
   * appended, see `#launchEarly`), its host-call answers, its barrier and
   * its outcome wait until the batch is appended, and are dropped when it
   * was not: the step never started.
   */
  #launch(
    effect: Extract<Effect, { kind: "RunStep" }>,
    appended?: Promise<boolean>,
  ): AbortController {
    const { step, attempt, pin, input } = effect;
    const started = appended === undefined ? undefined : async () => {
      if (!await appended) throw new ActorStoppedError(this.#state.run_id);
    };
    const hostCalls: HostCallPort = {
      recorded: effect.recorded,
      persist: async (call) => {
        await started?.();
        await this.actor.ask({ type: "HostCall", body: call });
      },
      barrier: async () => {
        await started?.();
        await this.#barrier();
      },
    };
    const controller = new AbortController();
    this.#executions.set(step, controller);
    const execution = {
      run_id: this.#state.run_id,
      step,
      attempt,
      pin,
      input,
      hostCalls,
      signal: controller.signal,
      traceparent: this.#state.traceparent,
    };
    this.#deps.executor.execute(execution).finally(() => {
      if (this.#executions.get(step) === controller) {
        this.#executions.delete(step);
      }
    }).then(async (outcome) => {
      // A step whose batch was not appended never started: nothing of it
      // is recorded (its successor, if any, runs it again).
      if (appended !== undefined && !await appended) return;
      await this.actor.ask(
        outcome.ok
          ? {
            type: "StepSucceeded",
            body: {
              step,
              attempt,
              output: outcome.output,
              output_sha256: outcome.output_sha256,
            },
          }
          : {
            type: "StepFailed",
            body: { step, attempt, error: outcome.error },
          },
      );
    }).catch((error) => {
      // A stopped actor's late results are dropped: its successor re-runs the step.
      if (error instanceof ActorStoppedError) return;
      this.#deps.log.log("error", "step_outcome_lost", {
        run_id: this.#state.run_id,
        step,
        error: String(error),
      });
      this.actor.crash(error);
    });
    return controller;
  }
}

/** A live run actor. */
export interface RunActorHandle {
  actor: Actor<RunMessage, RunState>;
  exit: Promise<ActorExit>;
  state: () => RunState;
  /** Stops the actor; its run resumes from the log on the next start. */
  stop: () => void;
}

/**
 * Starts the actor of an existing run: folds its log into a state, then
 * carries out what the run needs to continue (`resume`). Throws when the log
 * is empty or broken; the supervisor treats that as a crash.
 */
export async function startRunActor(
  runId: string,
  deps: RunActorDeps,
): Promise<RunActorHandle> {
  const { state, head, bytes, snapshotSeq } = await recoverRun(runId, deps);
  const behavior = new RunBehavior(state, head, deps, { bytes, snapshotSeq });
  const actor = new Actor<RunMessage, RunState>(runId, behavior);
  behavior.actor = actor;
  const effects = resume(state);
  behavior.carryOut(effects);
  for (const effect of effects) {
    // A decision the log does not hold yet goes through the mailbox like any
    // message; a failure to record it crashes the actor, which is restarted.
    if (effect.kind === "AppendMessage") {
      actor.ask(effect.message).catch(() => {});
    }
  }
  actor.exit.then(() => behavior.release());
  return {
    actor,
    exit: actor.exit,
    state: () => behavior.state,
    stop: () => behavior.stop(),
  };
}

/** What a run records when the store did not grant a reservation as asked. */
function answerMessage(
  asked: ReservationAsked,
  answer: BudgetAnswer,
): RunMessage {
  const body = { ...asked, day: answer.day };
  return answer.granted ? { type: "BudgetReserved", body } : {
    type: "BudgetRefused",
    body: {
      ...body,
      scope: "tenant_day",
      limit_cents: answer.limit_cents,
      spent_cents: answer.spent_cents,
      reserved_cents: answer.reserved_cents,
    },
  };
}
