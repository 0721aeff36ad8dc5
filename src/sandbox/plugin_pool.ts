import type { Clock, RandomSource } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import { CallDeadlines } from "./_call_deadlines.ts";
import { HostBridge } from "./_host_bridge.ts";
import {
  type BatchResult,
  GuestFailure,
  PluginInstance,
  WorkerExited,
} from "./_plugin_instance.ts";
import { PROBE_EXPORT } from "./module_rewrite.ts";

/** Options of a pool; one pool serves one module with one timeout. */
export interface PluginPoolOptions {
  bytes: Uint8Array;
  timeoutMs: number;
  /** Budget of the Extism kernel's buffers (input, output, vars) per instance. */
  kernelBytesMax: number;
  /** Most instances (worker threads) alive at once. */
  sizeMax: number;
  /** Most callers waiting for an instance; more are refused. */
  queueMax: number;
  /**
   * An instance left idle this long is closed (its worker thread ends), so
   * a skill that is no longer called holds no memory; the next call starts
   * one again. Undefined: instances stay until the pool closes.
   */
  idleMs?: number;
  /**
   * With instances alive but all busy, a caller first waits for one to be
   * released, and a new instance is started when callers still wait after
   * this long and every instance's worker spent at least half of it in
   * calls: short calls then share one worker thread (each costs 15-25 MB)
   * while slow or busy ones, such as calls waiting on the network, still
   * get up to sizeMax. Undefined or 0: a new instance is started at once.
   */
  growAfterMs?: number;
  clock: Clock;
  random: RandomSource;
}

/**
 * Instances of one module, each in its own worker thread, reused across
 * calls. The module is compiled once and shared by the instances. An
 * instance whose call failed is closed rather than reused, since a trapped
 * or timed-out module may be left in any state.
 */
export class PluginPool {
  readonly #options: PluginPoolOptions;
  readonly #bridge: HostBridge;
  // Most recently released last: acquire takes from the end, so the oldest
  // idle instances are at the front, where retirement looks.
  readonly #idle: { instance: PluginInstance; sinceMs: number }[] = [];
  readonly #guestErrors = new WeakMap<PluginInstance, string>();
  readonly #waiting: ((instance: PluginInstance | Error) => void)[] = [];
  #module: Promise<WebAssembly.Module> | undefined;
  #alive = 0;
  #closed = false;
  #retirement: { cancel: () => void } | undefined;
  #growth: ReturnType<typeof setTimeout> | undefined;
  /** Growth windows in a row, up to the last, in which every worker was busy. */
  #busyWindows = 0;
  #starting = 0;
  readonly #instances = new Set<PluginInstance>();
  readonly #deadlines = new CallDeadlines();

  constructor(options: PluginPoolOptions) {
    this.#options = options;
    this.#bridge = new HostBridge(options);
  }

  /** Instances alive, and how many of them are busy. */
  get stats(): { size: number; busy: number; queued: number } {
    return {
      size: this.#alive,
      busy: this.#alive - this.#idle.length,
      queued: this.#waiting.length,
    };
  }

  async #create(): Promise<PluginInstance> {
    this.#alive++;
    this.#starting++;
    try {
      this.#module ??= WebAssembly.compile(
        this.#options.bytes as Uint8Array<ArrayBuffer>,
      );
      const instance = await PluginInstance.start({
        module: await this.#module,
        bridge: this.#bridge,
        kernelBytesMax: this.#options.kernelBytesMax,
        startTimeoutMs: this.#options.timeoutMs + START_BACKSTOP_MS,
      });
      this.#instances.add(instance);
      return instance;
    } catch (error) {
      this.#alive--;
      throw error;
    } finally {
      this.#starting--;
    }
  }

  /** An idle instance, a new one, or (pool full) the next one released. */
  acquire(): Promise<PluginInstance> {
    if (this.#closed) return Promise.reject(new Error("pool closed"));
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle.instance);
    const room = this.#alive < this.#options.sizeMax;
    if (
      room && (this.#alive === 0 || !this.#options.growAfterMs)
    ) {
      return this.#create();
    }
    if (this.#waiting.length >= this.#options.queueMax) {
      return Promise.reject(
        new AosError(
          "SANDBOX_BUSY",
          `${this.#options.queueMax} calls are already waiting for this skill`,
          {
            details: {
              queue_max: this.#options.queueMax,
              pool_size: this.#alive,
            },
          },
        ),
      );
    }
    const waiter = new Promise<PluginInstance>((resolve, reject) => {
      this.#waiting.push((result) =>
        result instanceof Error ? reject(result) : resolve(result)
      );
    });
    if (room) this.#armGrowth();
    return waiter;
  }

  // One timer per pool, armed while callers wait and there is room. When it
  // fires, callers still wait, no instance is starting, and every instance's
  // worker was in calls at least half of the time since it was armed (as the
  // worker counts it, less the time its thread waited for a core), in this
  // window and the one before, the first waiting caller gets a new instance.
  // How long a caller waited does not decide: callers also wait while this
  // thread is busy (a collection, a group commit) with every worker already
  // done. Nor does the calls' wall-clock time alone: a worker of a busy
  // machine can be off its core for tens of ms in the middle of a short call,
  // and a second worker (10-25 MB) would wait for the same cores. Nor does
  // one window: a worker of short calls can stall for most of one (70 of 100
  // ms, seen under load, not waiting for a core), once in hundreds.
  #armGrowth(): void {
    const growAfterMs = this.#options.growAfterMs;
    if (!growAfterMs || this.#growth !== undefined) return;
    const armedMs = performance.now();
    const marks = [...this.#instances].map((instance) => ({
      instance,
      busyUs: instance.busyUs(armedMs),
      waitedUs: instance.waitedUs(),
    }));
    this.#growth = setTimeout(() => {
      this.#growth = undefined;
      if (
        this.#closed || this.#waiting.length === 0 ||
        this.#alive >= this.#options.sizeMax
      ) {
        this.#busyWindows = 0;
        return;
      }
      const nowMs = performance.now();
      const windowUs = (nowMs - armedMs) * 1000;
      const saturated = marks.length === this.#instances.size &&
        marks.every(({ instance, busyUs, waitedUs }) => {
          const waitedNowUs = instance.waitedUs();
          return workedEnough(windowUs, {
            busyBeforeUs: busyUs,
            busyAfterUs: instance.busyUs(nowMs),
            waitedUs: waitedUs === undefined || waitedNowUs === undefined
              ? undefined
              : waitedNowUs - waitedUs,
          });
        });
      this.#busyWindows = saturated ? this.#busyWindows + 1 : 0;
      if (this.#starting === 0 && this.#busyWindows >= BUSY_WINDOWS_TO_GROW) {
        this.#busyWindows = 0;
        const next = this.#nextWaiting()!;
        this.#create().then(next, next);
      }
      if (this.#waiting.length > 0) this.#armGrowth();
    }, growAfterMs);
  }

  #nextWaiting(): ((instance: PluginInstance | Error) => void) | undefined {
    const next = this.#waiting.shift();
    return next;
  }

  /** Returns an instance; `healthy: false` closes it and frees its place. */
  async release(instance: PluginInstance, healthy: boolean): Promise<void> {
    if (healthy && !this.#closed && !instance.exited) {
      const next = this.#nextWaiting();
      if (next !== undefined) return next(instance);
      this.#idle.push({ instance, sinceMs: this.#options.clock.nowMs() });
      this.#armRetirement();
      return;
    }
    this.#alive--;
    this.#instances.delete(instance);
    await instance.terminate().catch(() => {});
    const next = this.#nextWaiting();
    if (next !== undefined) this.#create().then(next, next);
  }

  // One timer per pool, armed only while an instance is idle: it fires when
  // the oldest idle instance has been idle for idleMs, closes every instance
  // idle that long, and re-arms for the next oldest.
  #armRetirement(): void {
    const idleMs = this.#options.idleMs;
    const oldest = this.#idle[0];
    if (idleMs === undefined || oldest === undefined) return;
    if (this.#retirement !== undefined) return;
    const clock = this.#options.clock;
    const delayMs = Math.max(0, oldest.sinceMs + idleMs - clock.nowMs());
    const wait = clock.delay(delayMs);
    let cancelled = false;
    this.#retirement = {
      cancel: () => {
        cancelled = true;
        wait.cancel();
      },
    };
    wait.done.then(() => {
      if (cancelled) return;
      this.#retirement = undefined;
      this.#retireIdle(idleMs);
      this.#armRetirement();
    });
  }

  #retireIdle(idleMs: number): void {
    const nowMs = this.#options.clock.nowMs();
    while (
      this.#idle.length > 0 && nowMs - this.#idle[0]!.sinceMs >= idleMs
    ) {
      const { instance } = this.#idle.shift()!;
      this.#alive--;
      this.#instances.delete(instance);
      instance.terminate().catch(() => {});
    }
  }

  /**
   * Calls `entrypoint` on `instance` under the pool's time limit. On expiry
   * the worker thread is terminated (the only way to stop a Wasm loop) and
   * SANDBOX_TIMEOUT is raised; on `signal`, likewise, RUN_CANCELLED. Any
   * other exit of the worker during the call is SANDBOX_WORKER_DIED. A
   * failure inside the guest rejects with an Error whose message is the
   * trap's, or Extism's "Plugin-originated error: …" for a reported one.
   * Unless the guest reported an error, the caller must release the
   * instance as unhealthy.
   */
  async call(
    instance: PluginInstance,
    entrypoint: string,
    input: string,
    hostContext: unknown,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    return await this.#bounded(
      instance,
      this.#options.timeoutMs,
      signal,
      () => instance.call(entrypoint, input, hostContext),
    );
  }

  async #bounded<T>(
    instance: PluginInstance,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    let stoppedBy: "timeout" | "cancel" | undefined;
    const stop = (reason: "timeout" | "cancel") => {
      stoppedBy ??= reason;
      instance.terminate().catch(() => {});
    };
    const onAbort = () => stop("cancel");
    const done = this.#deadlines.add(timeoutMs, () => stop("timeout"));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await run();
    } catch (error) {
      if (error instanceof GuestFailure) {
        if (error.guestError !== undefined) {
          this.#guestErrors.set(instance, error.guestError);
        }
        throw new Error(error.message);
      }
      if (!(error instanceof WorkerExited)) throw error;
      if (stoppedBy === "cancel") {
        throw new AosError(
          "RUN_CANCELLED",
          "the step was interrupted because its run ended",
        );
      }
      if (stoppedBy === "timeout") {
        throw new AosError(
          "SANDBOX_TIMEOUT",
          `the skill ran longer than ${timeoutMs} ms`,
          { details: { timeout_ms: timeoutMs } },
        );
      }
      throw new AosError(
        "SANDBOX_WORKER_DIED",
        `the skill's worker thread exited (code ${error.code})`,
        { details: { exit_code: error.code } },
      );
    } finally {
      signal?.removeEventListener("abort", onAbort);
      done();
    }
  }

  /**
   * Calls `entrypoint` with each input in turn on `instance`, in one
   * hand-off (`PluginInstance.callBatch`), under the time limit of all of
   * them; how long each call took is in its result. Rejects as `call` does
   * when the worker thread ends; a call that fails stops the batch (its
   * result holds the failure's message, and the calls after it have none).
   */
  async callBatch(
    instance: PluginInstance,
    entrypoint: string,
    inputs: readonly Uint8Array[],
    hostContexts: readonly unknown[],
    signal?: AbortSignal,
  ): Promise<BatchResult[]> {
    return await this.#bounded(
      instance,
      this.#options.timeoutMs * inputs.length,
      signal,
      () => instance.callBatch(entrypoint, inputs, hostContexts),
    );
  }

  /** The time limit of one call. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  /**
   * True when the instance's last call ran into its memory cap: hardened
   * modules record a failed `memory.grow`, and their `__aos_probe` export
   * traps when that happened. Only meaningful right after a failed call on
   * a live instance.
   */
  async memoryCapHit(instance: PluginInstance): Promise<boolean> {
    if (instance.exited) return false;
    // Bounded like any call.
    const done = this.#deadlines.add(
      this.#options.timeoutMs,
      () => instance.terminate().catch(() => {}),
    );
    try {
      await instance.call(PROBE_EXPORT, "", undefined);
      return false;
    } catch (error) {
      return error instanceof GuestFailure;
    } finally {
      done();
    }
  }

  /** The worker thread of an instance, for tests that must kill one. */
  static workerOf(instance: PluginInstance): WorkerLike {
    return instance.worker;
  }

  /**
   * The last error line the guest logged during its last failed call, if
   * not taken yet. A trap loses the guest's `error_set` message in the SDK,
   * so skills also log it.
   */
  takeGuestError(instance: PluginInstance): string | undefined {
    const line = this.#guestErrors.get(instance);
    this.#guestErrors.delete(instance);
    return line;
  }

  /** Closes every instance; waiting callers are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#retirement?.cancel();
    this.#retirement = undefined;
    clearTimeout(this.#growth);
    this.#growth = undefined;
    this.#deadlines.clear();
    this.#instances.clear();
    for (const waiter of this.#waiting.splice(0)) {
      waiter(new Error("pool closed"));
    }
    await Promise.all(
      this.#idle.splice(0).map(({ instance }) =>
        instance.terminate().catch(() => {})
      ),
    );
  }
}

/** The part of `node:worker_threads` Worker the pool uses. */
export interface WorkerLike {
  terminate(): Promise<number>;
}

// Share of a growth window an instance's worker must have spent in calls.
const BUSY_TO_GROW = 0.5;
// Growth windows in a row that must each be that busy.
const BUSY_WINDOWS_TO_GROW = 2;

/**
 * Whether a worker was in calls at least half of a growth window of
 * `windowUs`: its time in calls over the window (`PluginInstance.busyUs` at
 * the window's start and end), less `waitedUs` its thread spent waiting for
 * a core over the window (unknown: none counted). Time blocked on a host
 * answer counts as in calls.
 */
export function workedEnough(
  windowUs: number,
  worker: {
    busyBeforeUs: number;
    busyAfterUs: number;
    waitedUs: number | undefined;
  },
): boolean {
  // The counter is mod 2^32, hence the signed 32-bit difference. It can
  // also step back: a call under way counts from its hand-over on this
  // thread until it ends, and then the worker's own count replaces that,
  // which leaves out the time the worker took to wake. A step back is no
  // time in calls (read unsigned, it was 2^32 µs less a few: "busy", and
  // the pool grew for a skill whose worker was in calls 5-20% of the time).
  const busyUs = Math.max(
    0,
    (worker.busyAfterUs - worker.busyBeforeUs) | 0,
  );
  const workedUs = busyUs - Math.max(0, worker.waitedUs ?? 0);
  return workedUs >= windowUs * BUSY_TO_GROW;
}

// Generous: worker start-up on a loaded 2-core machine can take seconds, and
// this only has to stop a module whose _initialize never returns.
const START_BACKSTOP_MS = 30_000;
