import type { Clock, Logger } from "../src/deps/mod.ts";
import type {
  Lease,
  ResumeRequest,
  SignalRequest,
  Store,
} from "../src/store/mod.ts";

/** How a node holds runs; defaults in `DEFAULT_OWNERSHIP`. */
export interface OwnershipOptions {
  /** This node's name in leases; unique among live nodes sharing a store. */
  nodeId: string;
  /** How long a lease holds without renewal; another node takes over after. */
  leaseMs: number;
  /** Fallback claim interval when no wake-up arrives. */
  pollMs: number;
  /** Most runs this node holds at once; the rest is left to other nodes. */
  runsMax: number;
  /** Most runs taken in one claim. */
  claimBatch: number;
  /**
   * A run with nothing to do but wait is parked (no actor, no lease) when
   * its wait is open-ended or its earliest timer is at least this far off;
   * shorter waits keep their actor.
   */
  parkMinMs: number;
}

/** Defaults: 10 s leases renewed every third of that, a 2 s poll, 256 runs, parking past 1 s. */
export const DEFAULT_OWNERSHIP: OwnershipOptions = {
  nodeId: "local",
  leaseMs: 10_000,
  pollMs: 2_000,
  runsMax: 256,
  claimBatch: 32,
  parkMinMs: 1_000,
};

/** What ownership does with the runs it gains and loses. */
export interface OwnershipHooks {
  /** A run was claimed: start its actor. */
  claimed(runId: string): void;
  /** The lease was taken over or is gone: stop the run's actor, append nothing. */
  lost(runId: string): void;
  /** A client asked, maybe on another node, to cancel a run this node holds. */
  cancelRequested(runId: string, reason: string): void;
  /** A signal sent through another node waits for a run this node holds. */
  signalRequested(request: SignalRequest): void;
  /** A resume sent through another node waits for a run this node holds. */
  resumeRequested(request: ResumeRequest): void;
}

/**
 * The runs a node holds: it claims runnable runs when woken (a new run, a
 * released lease, a run parked until a time: `Store.onRunnable`), when the
 * earliest wake time of a parked run comes (one timer, re-armed after every
 * claim), or when the poll interval passes; renews its leases every third
 * of their duration, and reports leases it lost. Parked runs hold no lease,
 * so they cost no renewal; a node that holds none has no renewal timer. Lease timing uses its own clock (the live one in
 * a node), never the runs' clock: leases are operational, not part of any
 * run's log. Wake times are the runs' own (their timers' due times), so
 * they are read on `wakeClock`.
 */
export class RunOwnership {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #wakeClock: Clock;
  readonly #log: Logger;
  readonly #options: OwnershipOptions;
  readonly #hooks: OwnershipHooks;
  readonly #leases = new Map<string, Lease>();
  readonly #releases = new Set<Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  /** Runs being created held by this node (`leaseForNew` not yet settled). */
  #creating = 0;
  /**
   * The last claim may have left runnable runs behind for want of room: a
   * run ending here must then look again. Otherwise every runnable run
   * since has woken the claim loop itself (`onRunnable`).
   */
  #starved = false;
  #wakeRequested = false;
  #wakeUp: () => void = () => {};
  /** Resolves the renewal loop's wait for a first lease. */
  #holding: (() => void) | undefined;
  #loops: Promise<void>[] = [];
  readonly #waits = new Set<() => void>();

  constructor(
    deps: { store: Store; clock: Clock; wakeClock?: Clock; log: Logger },
    options: OwnershipOptions,
    hooks: OwnershipHooks,
  ) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#wakeClock = deps.wakeClock ?? deps.clock;
    this.#log = deps.log;
    this.#options = options;
    this.#hooks = hooks;
  }

  get nodeId(): string {
    return this.#options.nodeId;
  }

  get options(): Readonly<OwnershipOptions> {
    return this.#options;
  }

  /** How many leases this node holds (and renews). */
  get held(): number {
    return this.#leases.size;
  }

  /** The epoch this node holds `runId` at; undefined when it does not hold it. */
  epoch(runId: string): number | undefined {
    return this.#leases.get(runId)?.epoch;
  }

  /**
   * Releases what a previous process under this node's name held, claims a
   * first batch, and starts the claim and renewal loops; returns how many
   * runs the first claim took.
   */
  async start(): Promise<number> {
    await this.#store.releaseLeases(this.#options.nodeId);
    this.#unsubscribe = this.#store.onRunnable(() => this.wake());
    const claimed = await this.#claimOnce();
    this.#loops = [this.#claimLoop(), this.#renewLoop()];
    return claimed;
  }

  /** Asks the claim loop to look for work now. */
  wake(): void {
    this.#wakeRequested = true;
    this.#wakeUp();
  }

  /**
   * Lease terms for a run this node is creating, so that the run is created
   * already held (`RunMeta.lease`) and starts here without a claim; undefined
   * when the node holds all the runs it may (the run is then created unheld,
   * for whichever node has room). Settle the terms with `adopt` once the run
   * is created, or `forgo` when it was not.
   */
  leaseForNew(): { owner: string; expires_at: number } | undefined {
    if (this.#closed || this.#room() <= 0) return undefined;
    this.#creating++;
    return {
      owner: this.#options.nodeId,
      expires_at: this.#clock.nowMs() + this.#options.leaseMs,
    };
  }

  /**
   * The run was created held under `terms` (from `leaseForNew`): run it.
   * Returns false when the node is closing and gave the run up instead.
   */
  adopt(runId: string, terms: { owner: string; expires_at: number }): boolean {
    this.#creating--;
    const lease: Lease = { run_id: runId, epoch: 1, ...terms };
    if (this.#closed) {
      // Closing: give the run up for the next start or another node.
      this.#leases.set(runId, lease);
      this.released(runId);
      return false;
    }
    this.#took(lease);
    return true;
  }

  /** The run of `leaseForNew`'s terms was not created. */
  forgo(): void {
    this.#creating--;
  }

  /**
   * The run's actor has ended here: give its lease up so another node may
   * take it at once. `ended`: the run is over, and the append that ended it
   * already cleared its lease in the store, so there is nothing to write.
   */
  released(runId: string, options: { ended?: boolean } = {}): void {
    const lease = this.#leases.get(runId);
    if (lease === undefined) return;
    this.#leases.delete(runId);
    if (options.ended === true) {
      if (this.#starved) this.wake();
      return;
    }
    const release = this.#store.releaseLease(lease).catch((error) => {
      this.#log.log("warn", "lease_release_failed", {
        run_id: runId,
        error: String(error),
      });
    });
    this.#releases.add(release);
    release.finally(() => this.#releases.delete(release));
    this.wake();
  }

  /**
   * The run's actor has stopped to wait for `wakeAt` or a message: park it
   * in the store without a lease. A park the store refuses (a cancel request
   * arrived meanwhile) becomes a release, so a node claims the run at once.
   */
  park(runId: string, wakeAt: number | null): Promise<void> {
    const lease = this.#leases.get(runId);
    if (lease === undefined) return Promise.resolve();
    this.#leases.delete(runId);
    const parking = this.#store.parkRun(lease, { wakeAt }).then(
      async (parked) => {
        if (parked) {
          this.#log.log("debug", "run_parked", {
            run_id: runId,
            wake_at: wakeAt,
          });
        } else await this.#store.releaseLease(lease);
      },
    ).catch((error) => {
      // The lease stays until it expires; another node then claims the run.
      this.#log.log("warn", "run_park_failed", {
        run_id: runId,
        error: String(error),
      });
    }).finally(() => this.wake());
    this.#releases.add(parking);
    parking.finally(() => this.#releases.delete(parking));
    return parking;
  }

  /**
   * Claims `runId` for a message that arrived here, whether it is parked or
   * just unheld; false when another node holds it (or this one already does).
   * A message must be delivered, so this passes `runsMax`.
   */
  async claim(runId: string): Promise<boolean> {
    if (this.#closed || this.#leases.has(runId)) return false;
    const lease = await this.#store.claimRun(this.#options.nodeId, runId, {
      nowMs: this.#clock.nowMs(),
      leaseMs: this.#options.leaseMs,
    });
    if (lease === undefined || this.#closed) return false;
    this.#took(lease);
    return true;
  }

  #took(lease: Lease): void {
    this.#leases.set(lease.run_id, lease);
    this.#wakeRenewal();
    this.#log.log("info", "run_claimed", {
      run_id: lease.run_id,
      epoch: lease.epoch,
      node: this.#options.nodeId,
    });
    this.#hooks.claimed(lease.run_id);
  }

  /** Drops `runId` because its lease is gone; `reason` says how it was found out. */
  lost(runId: string, reason: "renewal" | "append_refused"): void {
    const lease = this.#leases.get(runId);
    if (lease === undefined) return;
    this.#leases.delete(runId);
    this.#log.log("warn", "lease_lost", {
      run_id: runId,
      epoch: lease.epoch,
      node: this.#options.nodeId,
      reason,
    });
    this.#hooks.lost(runId);
    this.wake();
  }

  async #claimOnce(): Promise<number> {
    const room = this.#room();
    if (this.#closed) return 0;
    if (room <= 0) {
      this.#starved = true;
      return 0;
    }
    const limit = Math.min(room, this.#options.claimBatch);
    const leases = await this.#store.claimRuns(this.#options.nodeId, {
      nowMs: this.#clock.nowMs(),
      wakeNowMs: this.#wakeClock.nowMs(),
      leaseMs: this.#options.leaseMs,
      limit,
    });
    this.#starved = leases.length === limit;
    for (const lease of leases) this.#took(lease);
    return leases.length;
  }

  /** How many more runs this node may hold. */
  #room(): number {
    return this.#options.runsMax - this.#leases.size - this.#creating;
  }

  /**
   * Hands the cancel, signal and resume requests on held runs to the
   * runtime (it ignores repeats).
   */
  async #deliverRequests(): Promise<void> {
    if (this.#leases.size === 0) return;
    const node = this.#options.nodeId;
    const held = (runId: string) => this.#leases.has(runId);
    for (const { run_id, reason } of await this.#store.pendingCancels(node)) {
      if (held(run_id)) this.#hooks.cancelRequested(run_id, reason);
    }
    for (const request of await this.#store.pendingSignals(node)) {
      if (held(request.run_id)) this.#hooks.signalRequested(request);
    }
    for (const request of await this.#store.pendingResumes(node)) {
      if (held(request.run_id)) this.#hooks.resumeRequested(request);
    }
  }

  async #claimLoop(): Promise<void> {
    while (!this.#closed) {
      this.#wakeRequested = false;
      let full = false;
      let wakeAt: number | undefined;
      try {
        full = await this.#claimOnce() === this.#options.claimBatch ||
          // Runs ended while it claimed, and it may have left some behind.
          (this.#starved && this.#room() > 0);
        await this.#deliverRequests();
        wakeAt = await this.#nextWake();
      } catch (error) {
        this.#log.log("warn", "claim_failed", { error: String(error) });
      }
      if (this.#closed) return;
      if (full || this.#wakeRequested) continue;
      await this.#wait(this.#options.pollMs, true, wakeAt);
    }
  }

  /**
   * The earliest future wake time of a parked run, when this node has room
   * to take it. A due one left unclaimed (another node is taking it, or
   * this one is full) is left to wake-ups and the poll, so the loop never
   * spins on it.
   */
  async #nextWake(): Promise<number | undefined> {
    if (this.#leases.size >= this.#options.runsMax) return undefined;
    const wakeAt = await this.#store.nextWakeAt();
    return wakeAt !== undefined && wakeAt > this.#wakeClock.nowMs()
      ? wakeAt
      : undefined;
  }

  async #renewLoop(): Promise<void> {
    const everyMs = Math.max(1, Math.floor(this.#options.leaseMs / 3));
    while (!this.#closed) {
      // Holding nothing (every run parked or ended), the node sleeps until
      // it takes a lease: a lease taken now first needs renewing in everyMs.
      if (this.#leases.size === 0) {
        await new Promise<void>((resolve) => this.#holding = resolve);
        if (this.#closed) return;
      }
      await this.#wait(everyMs, false);
      if (this.#closed) return;
      const held = [...this.#leases.values()];
      if (held.length === 0) continue;
      try {
        const renewed = await this.#store.renewLeases(
          this.#options.nodeId,
          held,
          { nowMs: this.#clock.nowMs(), leaseMs: this.#options.leaseMs },
        );
        const kept = new Map(renewed.map((lease) => [lease.run_id, lease]));
        for (const lease of held) {
          const renewal = kept.get(lease.run_id);
          if (renewal !== undefined) lease.expires_at = renewal.expires_at;
          else if (this.#leases.get(lease.run_id) === lease) {
            this.lost(lease.run_id, "renewal");
          }
        }
      } catch (error) {
        this.#log.log("warn", "lease_renewal_failed", {
          error: String(error),
          runs: held.length,
        });
      }
    }
  }

  #wakeRenewal(): void {
    const holding = this.#holding;
    this.#holding = undefined;
    holding?.();
  }

  /**
   * Waits `delayMs`, or less when woken (`wakeable`), closed, or when the
   * runs' clock reaches `wakeAt`.
   */
  async #wait(
    delayMs: number,
    wakeable: boolean,
    wakeAt?: number,
  ): Promise<void> {
    const delay = this.#clock.delay(delayMs);
    const due = wakeAt === undefined
      ? undefined
      : this.#wakeClock.delay(Math.max(0, wakeAt - this.#wakeClock.nowMs()));
    const woken = new Promise<void>((resolve) => {
      if (wakeable) this.#wakeUp = resolve;
    });
    this.#waits.add(delay.cancel);
    if (due !== undefined) this.#waits.add(due.cancel);
    await Promise.race([delay.done, woken, ...(due ? [due.done] : [])]);
    delay.cancel();
    due?.cancel();
    this.#waits.delete(delay.cancel);
    if (due !== undefined) this.#waits.delete(due.cancel);
  }

  /** Stops claiming and renewing; leases given up through `released` are awaited. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    for (const cancel of this.#waits) cancel();
    this.#wakeUp();
    this.#wakeRenewal();
    await Promise.all(this.#loops);
    await Promise.all([...this.#releases]);
  }
}
