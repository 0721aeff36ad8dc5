import createPlugin, {
  type ExtismPluginOptions,
  type Plugin,
} from "@extism/extism";
import type { Clock, RandomSource } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import { hostFunctions, recordedFetch } from "./host_functions.ts";
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
  clock: Clock;
  random: RandomSource;
}

/** What a pool call needs beyond the input: the call's host-function state. */
export type CallSlot = { state: unknown };

/**
 * Instances of one module, each in its own worker thread, reused across
 * calls. An instance whose call failed is closed rather than reused, since a
 * trapped or timed-out module may be left in any state.
 */
export class PluginPool {
  readonly #options: PluginPoolOptions;
  readonly #idle: Plugin[] = [];
  readonly #guestLogs = new WeakMap<Plugin, GuestLog>();
  readonly #slots = new WeakMap<Plugin, CallSlot>();
  readonly #waiting: ((plugin: Plugin | Error) => void)[] = [];
  #alive = 0;
  #closed = false;

  constructor(options: PluginPoolOptions) {
    this.#options = options;
  }

  /** Instances alive, and how many of them are busy. */
  get stats(): { size: number; busy: number; queued: number } {
    return {
      size: this.#alive,
      busy: this.#alive - this.#idle.length,
      queued: this.#waiting.length,
    };
  }

  async #create(): Promise<Plugin> {
    this.#alive++;
    const guestLog: GuestLog = { lastError: undefined };
    const slot: CallSlot = { state: undefined };
    try {
      const plugin = await createPlugin({
        wasm: [{ data: this.#options.bytes }],
      }, {
        useWasi: false,
        runInWorker: true,
        nodeWorkerArgs: { execArgv: [] },
        // Extism's own timer is a backstop for instantiation (a looping
        // _initialize); calls are timed by `call`, which fires first.
        timeoutMs: this.#options.timeoutMs + EXTISM_BACKSTOP_MS,
        memory: {
          maxPages: Math.ceil(this.#options.kernelBytesMax / WASM_PAGE_BYTES),
        },
        functions: { "extism:host/user": hostFunctions(this.#options) },
        // Extism's http_request goes through our fetch; the guard and the
        // manifest's allowed_hosts decide, so Extism's own host check is open.
        fetch: recordedFetch(slot),
        allowedHosts: ["*"],
        logger: guestLogger(guestLog) as unknown as NonNullable<
          ExtismPluginOptions["logger"]
        >,
        logLevel: "error",
      });
      // Calls are timed by `call`. Extism would also start a timer of its own
      // for every call and never clear it; at thousands of calls a second
      // those pile up into tens of thousands of pending timers.
      const options =
        (plugin as unknown as { opts?: { timeoutMs: number | null } }).opts;
      if (options !== undefined) options.timeoutMs = null;
      this.#guestLogs.set(plugin, guestLog);
      this.#slots.set(plugin, slot);
      return plugin;
    } catch (error) {
      this.#alive--;
      throw error;
    }
  }

  /** An idle instance, a new one, or (pool full) the next one released. */
  acquire(): Promise<Plugin> {
    if (this.#closed) return Promise.reject(new Error("pool closed"));
    const idle = this.#idle.pop();
    if (idle !== undefined) return Promise.resolve(idle);
    if (this.#alive < this.#options.sizeMax) return this.#create();
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
    return new Promise((resolve, reject) => {
      this.#waiting.push((result) =>
        result instanceof Error ? reject(result) : resolve(result)
      );
    });
  }

  /** Returns an instance; `healthy: false` closes it and frees its place. */
  async release(plugin: Plugin, healthy: boolean): Promise<void> {
    if (healthy && !this.#closed) {
      const next = this.#waiting.shift();
      if (next !== undefined) return next(plugin);
      this.#idle.push(plugin);
      return;
    }
    this.#alive--;
    await plugin.close().catch(() => {});
    const next = this.#waiting.shift();
    if (next !== undefined) this.#create().then(next, next);
  }

  /**
   * Calls `entrypoint` on `plugin` under the pool's time limit. The limit is
   * enforced here, not by Extism: on expiry the worker thread is terminated
   * (the only way to stop a Wasm loop) and SANDBOX_TIMEOUT is raised. Any
   * other exit of the worker during the call is SANDBOX_WORKER_DIED; Extism
   * would not notice it and the call would hang. Either way the caller must
   * release the instance as unhealthy.
   */
  async call(
    plugin: Plugin,
    entrypoint: string,
    input: string,
    hostContext: unknown,
    signal?: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    const worker = PluginPool.workerOf(plugin);
    const timeoutMs = this.#options.timeoutMs;
    let timedOut = false;
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      worker?.terminate();
    };
    let onExit: ((code: number) => void) | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = new Promise<never>((_, reject) => {
      onExit = (code) => {
        if (cancelled) {
          reject(
            new AosError(
              "RUN_CANCELLED",
              "the step was interrupted because its run ended",
            ),
          );
        } else if (timedOut) {
          reject(
            new AosError(
              "SANDBOX_TIMEOUT",
              `the skill ran longer than ${timeoutMs} ms`,
              { details: { timeout_ms: timeoutMs } },
            ),
          );
        } else {
          reject(
            new AosError(
              "SANDBOX_WORKER_DIED",
              `the skill's worker thread exited (code ${code})`,
              { details: { exit_code: code } },
            ),
          );
        }
      };
      worker?.once("exit", onExit);
      timer = setTimeout(() => {
        timedOut = true;
        worker?.terminate();
      }, timeoutMs);
    });
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const slot = this.#slots.get(plugin);
    if (slot !== undefined) slot.state = hostContext;
    try {
      const output = await Promise.race([
        plugin.call(entrypoint, input, hostContext),
        stopped,
      ]);
      return output?.bytes();
    } finally {
      if (slot !== undefined) slot.state = undefined;
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(timer);
      if (onExit !== undefined) worker?.off("exit", onExit);
    }
  }

  /**
   * True when the instance's last call ran into its memory cap: hardened
   * modules record a failed `memory.grow`, and their `__aos_probe` export
   * traps when that happened. Only meaningful right after a failed call on
   * a live instance.
   */
  async memoryCapHit(plugin: Plugin): Promise<boolean> {
    try {
      await plugin.call(PROBE_EXPORT);
      return false;
    } catch {
      return true;
    }
  }

  /** The worker thread of an instance, for tests that must kill one. */
  static workerOf(plugin: Plugin): WorkerLike | undefined {
    return (plugin as unknown as { worker?: WorkerLike | null }).worker ??
      undefined;
  }

  /**
   * The last error line the guest logged since the previous take. A trap
   * loses the guest's `error_set` message in the SDK, so skills also log it.
   */
  takeGuestError(plugin: Plugin): string | undefined {
    const log = this.#guestLogs.get(plugin);
    const line = log?.lastError;
    if (log !== undefined) log.lastError = undefined;
    return line;
  }

  /** Closes every instance; waiting callers are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) {
      waiter(new Error("pool closed"));
    }
    await Promise.all(
      this.#idle.splice(0).map((plugin) => plugin.close().catch(() => {})),
    );
  }
}

/** The part of `node:worker_threads` Worker the pool uses. */
export interface WorkerLike {
  once(event: "exit", listener: (code: number) => void): void;
  off(event: "exit", listener: (code: number) => void): void;
  terminate(): Promise<number>;
}

const WASM_PAGE_BYTES = 65_536;
// Generous: worker start-up on a loaded 2-core machine can take seconds, and
// this only has to stop a module whose _initialize never returns.
const EXTISM_BACKSTOP_MS = 30_000;

interface GuestLog {
  lastError: string | undefined;
}

// Guest log lines never reach our output (a skill must not be able to write
// to the host's logs); only the last error line is kept, to explain a trap.
function guestLogger(log: GuestLog): Record<string, (message: string) => void> {
  const drop = () => {};
  return {
    trace: drop,
    debug: drop,
    info: drop,
    warn: drop,
    log: drop,
    error: (message: string) => log.lastError = String(message).slice(0, 4096),
  };
}
