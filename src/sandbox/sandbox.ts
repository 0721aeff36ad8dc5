import type {
  StepExecution,
  StepExecutor,
  StepOutcome,
} from "../../actors/run_ports.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import {
  childTraceparent,
  type Clock,
  type RandomSource,
} from "../deps/mod.ts";
import { AosError, toAosError } from "../errors/mod.ts";
import { canonicalJson, sha256Hex } from "../store/mod.ts";
import { HostCallJournal } from "./host_calls.ts";
import type { CallState, HostServices } from "./host_functions.ts";
import { PluginPool } from "./plugin_pool.ts";
import type { BatchResult } from "./_plugin_instance.ts";
import { hardenModule } from "./module_rewrite.ts";
import { compileSkillSchemas, type SkillSchemas } from "../skills/schema.ts";
import type { HttpCallPolicy, HttpGateway } from "./http_host.ts";
import { DEFAULT_OUTPUT_LIMITS, type OutputLimits } from "./output_limits.ts";
import {
  classifyCallError,
  GUEST_ERROR_PREFIX,
  isGuestError,
  parseOutput,
} from "./call_outcome.ts";
import type { SkillManifest } from "../skills/manifest.ts";
import { grantsOnlyInProcess } from "./module_policy.ts";

/** A module's bytes with the manifest of the skill version it belongs to. */
export interface SkillModule {
  bytes: Uint8Array;
  manifest: SkillManifest;
}

/** Where the sandbox finds the module a pin names. */
export interface ModuleSource {
  /** The pinned module; undefined when its bytes are not available. */
  module(pin: SkillPin): Promise<SkillModule | undefined>;
}

/**
 * Host-side ceilings. A manifest may ask for less, never for more: the
 * effective limit of a call is the smaller of the two.
 */
export interface SandboxLimits {
  /** Longest call (default 60 s). */
  timeoutMsMax: number;
  /** Most linear memory a module may have (default 256 MiB). */
  memoryMbMax: number;
  /** Largest module accepted (default 16 MiB). */
  moduleBytesMax: number;
  output: OutputLimits;
}

/** Defaults of `SandboxLimits`. */
export const DEFAULT_SANDBOX_LIMITS: SandboxLimits = {
  timeoutMsMax: 60_000,
  memoryMbMax: 256,
  moduleBytesMax: 16 * 1024 * 1024,
  output: DEFAULT_OUTPUT_LIMITS,
};

/** Options of the sandbox. */
export interface SandboxOptions {
  modules: ModuleSource;
  clock: Clock;
  random: RandomSource;
  /** Instances per module (default 2: this host has 2 cores). */
  poolSizeMax?: number;
  /** Callers waiting per module before calls are refused (default 1000). */
  poolQueueMax?: number;
  /**
   * An instance idle this long is closed, its worker thread and memory
   * freed (default 60 s); the next call starts one again (tens of ms).
   */
  poolIdleMs?: number;
  /**
   * How long callers wait for busy instances before the pool starts
   * another, if the workers were busy at least half of that time (default
   * 100 ms): skills with short calls share one worker. 0: another starts
   * as soon as every instance is busy.
   */
  poolGrowAfterMs?: number;
  limits?: Partial<SandboxLimits>;
  /** Outbound HTTP for skills granted `http`; none when undefined. */
  http?: HttpGateway;
  /** Host services (SQL, calendar) for skills granted them. */
  services?: HostServices;
}

interface LoadedSkill {
  pool: PluginPool;
  policy: HttpCallPolicy;
  schemas: SkillSchemas;
}

const PAGES_PER_MB = 16;
// A worker costs 15-25 MB; a skill not called for a minute gives it back, and
// pays a start (about 40 ms) at its next call.
const POOL_IDLE_MS = 60_000;
// Under the `runs` load (32 concurrent runs) a json_transform call takes about
// 50 µs: one worker serves them all, busy a few % of the time. A skill whose
// worker stays busy (long calls, calls waiting on the network) gets another
// within this long, which then stays until idle for POOL_IDLE_MS.
const POOL_GROW_AFTER_MS = 100;

// Extism kernel memory holds a call's input and output; the input is the
// step's resolved params, which the API and templates keep well under this.
const KERNEL_INPUT_BYTES = 8 * 1024 * 1024;
const encoder = new TextEncoder();
// A batch holds at most this many calls and (past its first) this many
// UTF-16 units of input, well within what the worker channel carries.
const BATCH_CALLS_MAX = 16;
const BATCH_INPUT_CHARS_MAX = 1024 * 1024;

/**
 * Runs skills: Extism plugins in worker threads, pooled per module, with the
 * pinned module's bytes checked against its sha256. A skill that fails,
 * traps or times out yields a failed `StepOutcome` with a catalog code; it
 * never throws into the run actor.
 */
export class Sandbox implements StepExecutor {
  readonly #options: SandboxOptions;
  readonly #limits: SandboxLimits;
  readonly #pools = new Map<string, Promise<LoadedSkill>>();
  readonly #opened = new Set<PluginPool>();
  /** Pools loaded, by key: whether their skill's calls stay in the process. */
  readonly #inProcess = new Map<string, boolean>();

  constructor(options: SandboxOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_SANDBOX_LIMITS, ...options.limits };
  }

  #pool(pin: SkillPin): Promise<LoadedSkill> {
    const key = poolKey(pin);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#openPool(pin);
      this.#pools.set(key, pool);
      pool.then(
        (loaded) => this.#opened.add(loaded.pool),
        () => this.#pools.delete(key),
      );
    }
    return pool;
  }

  /** Worker threads over every pool: alive, busy, and calls waiting for one. */
  poolStats(): { size: number; busy: number; queued: number } {
    const total = { size: 0, busy: 0, queued: 0 };
    for (const pool of this.#opened) {
      const stats = pool.stats;
      total.size += stats.size;
      total.busy += stats.busy;
      total.queued += stats.queued;
    }
    return total;
  }

  async #openPool(pin: SkillPin): Promise<LoadedSkill> {
    const module = await this.#options.modules.module(pin);
    const bytes = module?.bytes;
    if (bytes === undefined || sha256Hex(bytes) !== pin.sha256) {
      throw new AosError(
        "SKILL_MODULE_MISSING",
        `module ${pin.name}@${pin.version}#${pin.sha256} is not available`,
        {
          details: {
            skill: pin.name,
            version: pin.version,
            sha256: pin.sha256,
          },
        },
      );
    }
    const manifest = module!.manifest;
    const memoryMb = Math.min(manifest.memory_mb, this.#limits.memoryMbMax);
    const hardened = hardenModule(bytes, {
      entrypoint: pin.entrypoint,
      permissions: manifest.permissions,
      memoryMaxPages: memoryMb * PAGES_PER_MB,
      moduleMaxBytes: this.#limits.moduleBytesMax,
    });
    const pool = new PluginPool({
      bytes: hardened.bytes,
      timeoutMs: Math.min(pin.timeout_ms, this.#limits.timeoutMsMax),
      kernelBytesMax: 2 * this.#limits.output.bytesMax + KERNEL_INPUT_BYTES,
      sizeMax: this.#options.poolSizeMax ?? 2,
      queueMax: this.#options.poolQueueMax ?? 1000,
      idleMs: this.#options.poolIdleMs ?? POOL_IDLE_MS,
      growAfterMs: this.#options.poolGrowAfterMs ?? POOL_GROW_AFTER_MS,
      clock: this.#options.clock,
      random: this.#options.random,
    });
    const policy = {
      allowedHosts: manifest.allowed_hosts,
      permissions: manifest.permissions,
    };
    const schemas = compileSkillSchemas(manifest);
    this.#inProcess.set(
      poolKey(pin),
      grantsOnlyInProcess(manifest.permissions),
    );
    return { pool, policy, schemas };
  }

  /**
   * True when a call of `pin` can make nothing leave the process (its
   * manifest grants no host function that reaches outside it), known once
   * its module has been loaded; false before.
   */
  staysInProcess(pin: SkillPin): boolean {
    return this.#inProcess.get(poolKey(pin)) === true;
  }

  async execute(execution: StepExecution): Promise<StepOutcome> {
    const state = callState(execution, this.#options);
    let pool: PluginPool;
    let schemas: SkillSchemas;
    try {
      const loaded = await this.#pool(execution.pin);
      pool = loaded.pool;
      schemas = loaded.schemas;
      state.http.policy = loaded.policy;
    } catch (error) {
      return {
        ok: false,
        error: toAosError(error, "SANDBOX_LOAD_FAILED").toRecorded(),
      };
    }
    const badInput = schemas.checkInput(execution.input);
    if (badInput !== undefined) {
      return { ok: false, error: badInput.toRecorded() };
    }
    let plugin;
    try {
      plugin = await pool.acquire();
    } catch (error) {
      return {
        ok: false,
        error: toAosError(error, "SANDBOX_LOAD_FAILED").toRecorded(),
      };
    }
    let healthy = false;
    pool.takeGuestError(plugin);
    try {
      const output = await pool.call(
        plugin,
        execution.pin.entrypoint,
        canonicalJson(execution.input),
        state,
        execution.signal,
      );
      healthy = true;
      return this.#finished(state, output, schemas);
    } catch (error) {
      let failure = state.failure ??
        classifyCallError(error, pool.takeGuestError(plugin));
      if (failure.code === "SANDBOX_TRAP" && await pool.memoryCapHit(plugin)) {
        failure = new AosError(
          "SANDBOX_MEMORY_LIMIT",
          "the skill ran out of memory at its memory_mb cap",
          {
            cause: failure,
            details: { trap: failure.message },
          },
        );
      }
      // A guest that reported an error cleanly can be reused; anything else cannot.
      healthy = state.failure === undefined && isGuestError(error);
      return { ok: false, error: failure.toRecorded() };
    } finally {
      await pool.release(plugin, healthy);
    }
  }

  // The outcome of a call that returned.
  #finished(
    state: CallState,
    output: Uint8Array | undefined,
    schemas: SkillSchemas,
  ): StepOutcome {
    if (state.failure !== undefined) {
      return { ok: false, error: state.failure.toRecorded() };
    }
    const outcome = parseOutput(output, this.#limits.output);
    const badOutput = outcome.ok
      ? schemas.checkOutput(outcome.output)
      : undefined;
    return badOutput === undefined
      ? outcome
      : { ok: false, error: badOutput.toRecorded() };
  }

  /**
   * Runs several executions; each gets the outcome `execute` would give it,
   * in order. Those of one module that bring no recorded host-call answers
   * (replayed steps that made no host calls, say) run back to back on one
   * instance, in one hand-off to its worker and one back, which is most of
   * what a short call costs this thread. Any other runs through `execute`,
   * and so does any whose batched call failed, outran its time limit or did
   * not run: its instance's state is reset before every call and it served
   * no recorded answer, so running it again gives what running it alone
   * gives.
   */
  executeBatch(
    executions: readonly StepExecution[],
  ): Promise<StepOutcome[]> {
    const outcomes: Promise<StepOutcome>[] = [];
    const inputs: string[] = [];
    const batches = new Map<string, number[]>();
    executions.forEach((execution, index) => {
      let input: string | undefined;
      if (
        execution.hostCalls.recorded.length === 0 &&
        execution.signal === undefined
      ) {
        try {
          input = canonicalJson(execution.input);
        } catch {
          // `execute` reports it.
        }
      }
      if (input === undefined) {
        outcomes[index] = this.execute(execution);
        return;
      }
      inputs[index] = input;
      const key = poolKey(execution.pin);
      const batch = batches.get(key);
      if (batch === undefined) batches.set(key, [index]);
      else batch.push(index);
    });
    for (const indices of batches.values()) {
      // Parts of even size, so that the pool's workers finish together.
      const parts = Math.ceil(indices.length / BATCH_CALLS_MAX);
      const partMax = Math.ceil(indices.length / parts);
      for (let from = 0; from < indices.length;) {
        const part: number[] = [];
        let chars = 0;
        for (; from < indices.length && part.length < partMax; from++) {
          chars += inputs[indices[from]!]!.length;
          if (part.length > 0 && chars > BATCH_INPUT_CHARS_MAX) break;
          part.push(indices[from]!);
        }
        const done = this.#batch(
          part.map((index) => executions[index]!),
          part.map((index) => inputs[index]!),
        );
        part.forEach((index, position) => {
          outcomes[index] = done.then((list) => list[position]!);
        });
      }
    }
    return Promise.all(outcomes);
  }

  // Executions of one pool without recorded answers, batched.
  async #batch(
    executions: readonly StepExecution[],
    canonicalInputs: readonly string[],
  ): Promise<StepOutcome[]> {
    const outcomes: (StepOutcome | undefined)[] = [];
    const alone = () =>
      Promise.all(
        executions.map((execution, index) =>
          outcomes[index] ?? this.execute(execution)
        ),
      );
    if (executions.length < 2) return await alone();
    let loaded: LoadedSkill;
    try {
      loaded = await this.#pool(executions[0]!.pin);
    } catch {
      return await alone();
    }
    const { pool, schemas } = loaded;
    const states: CallState[] = [];
    const inputs: Uint8Array[] = [];
    const batched: number[] = [];
    executions.forEach((execution, index) => {
      const badInput = schemas.checkInput(execution.input);
      if (badInput !== undefined) {
        outcomes[index] = { ok: false, error: badInput.toRecorded() };
        return;
      }
      const state = callState(execution, this.#options);
      state.http.policy = loaded.policy;
      states.push(state);
      inputs.push(encoder.encode(canonicalInputs[index]));
      batched.push(index);
    });
    if (batched.length === 0) return await alone();
    let plugin;
    try {
      plugin = await pool.acquire();
    } catch {
      return await alone();
    }
    let healthy = false;
    let results: BatchResult[] = [];
    pool.takeGuestError(plugin);
    try {
      results = await pool.callBatch(
        plugin,
        executions[0]!.pin.entrypoint,
        inputs,
        states,
      );
      // As after one call: a guest that reported an error cleanly (and
      // whose host calls did not fail) can be reused; anything else cannot.
      const failure = results[results.length - 1]?.failure;
      healthy = failure === undefined ||
        (failure.startsWith(GUEST_ERROR_PREFIX) &&
          states[results.length - 1]!.failure === undefined);
    } catch {
      // A timeout or a dead worker: every call runs again on its own.
      results = [];
    } finally {
      await pool.release(plugin, healthy);
    }
    results.forEach((result, position) => {
      if (
        result.failure !== undefined ||
        result.durationUs > pool.timeoutMs * 1000
      ) return;
      outcomes[batched[position]!] = this.#finished(
        states[position]!,
        result.output,
        schemas,
      );
    });
    return await alone();
  }

  /** Closes every pool and its worker threads. */
  async close(): Promise<void> {
    const pools = await Promise.allSettled(this.#pools.values());
    this.#pools.clear();
    this.#opened.clear();
    await Promise.all(
      pools.map((pool) =>
        pool.status === "fulfilled" ? pool.value.pool.close() : undefined
      ),
    );
  }
}

function poolKey(pin: SkillPin): string {
  return `${pin.name}@${pin.version}#${pin.sha256}/${pin.timeout_ms}`;
}

// The host side of one call: its host-call journal and what its host
// functions may reach.
function callState(
  execution: StepExecution,
  options: SandboxOptions,
): CallState {
  let traceparent: string | undefined;
  return {
    journal: new HostCallJournal(
      execution.step,
      execution.attempt,
      execution.hostCalls,
    ),
    failure: undefined,
    http: {
      policy: { allowedHosts: [], permissions: [] },
      gateway: options.http,
      // Derived (a sha256) only when the step makes an outbound call.
      get traceparent() {
        return traceparent ??= childTraceparent(
          execution.run_id,
          execution.traceparent ?? null,
          `${execution.run_id}/${execution.step}/${execution.attempt}`,
        );
      },
      effect: {
        run_id: execution.run_id,
        step: execution.step,
        attempt: execution.attempt,
      },
    },
    services: options.services ?? {},
    identity: { run_id: execution.run_id, step: execution.step },
  };
}
