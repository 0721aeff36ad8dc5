import type {
  StepExecution,
  StepExecutor,
  StepOutcome,
} from "../../actors/run_actor.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import type { Clock, RandomSource } from "../deps/mod.ts";
import { AosError, toAosError } from "../errors/mod.ts";
import { canonicalJson, type Json, sha256Hex } from "../store/mod.ts";
import { HostCallJournal } from "./host_calls.ts";
import type { CallState } from "./host_functions.ts";
import { PluginPool } from "./plugin_pool.ts";

/** Where the sandbox finds a module's bytes by sha256. */
export interface ModuleSource {
  moduleBytes(sha256: string): Promise<Uint8Array | undefined>;
}

/** Options of the sandbox. */
export interface SandboxOptions {
  modules: ModuleSource;
  clock: Clock;
  random: RandomSource;
  /** Instances per module (default 2: this host has 2 cores). */
  poolSizeMax?: number;
  /** Callers waiting per module before calls are refused (default 1000). */
  poolQueueMax?: number;
}

const GUEST_ERROR_PREFIX = "Plugin-originated error: ";
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Runs skills: Extism plugins in worker threads, pooled per module, with the
 * pinned module's bytes checked against its sha256. A skill that fails,
 * traps or times out yields a failed `StepOutcome` with a catalog code; it
 * never throws into the run actor.
 */
export class Sandbox implements StepExecutor {
  readonly #options: SandboxOptions;
  readonly #pools = new Map<string, Promise<PluginPool>>();

  constructor(options: SandboxOptions) {
    this.#options = options;
  }

  #pool(pin: SkillPin): Promise<PluginPool> {
    const key = `${pin.sha256}/${pin.timeout_ms}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = this.#openPool(pin);
      this.#pools.set(key, pool);
      pool.catch(() => this.#pools.delete(key));
    }
    return pool;
  }

  async #openPool(pin: SkillPin): Promise<PluginPool> {
    const bytes = await this.#options.modules.moduleBytes(pin.sha256);
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
    return new PluginPool({
      bytes,
      timeoutMs: pin.timeout_ms,
      sizeMax: this.#options.poolSizeMax ?? 2,
      queueMax: this.#options.poolQueueMax ?? 1000,
      clock: this.#options.clock,
      random: this.#options.random,
    });
  }

  async execute(execution: StepExecution): Promise<StepOutcome> {
    const state: CallState = {
      journal: new HostCallJournal(
        execution.step,
        execution.attempt,
        execution.hostCalls,
      ),
      failure: undefined,
    };
    let pool: PluginPool;
    try {
      pool = await this.#pool(execution.pin);
    } catch (error) {
      return {
        ok: false,
        error: toAosError(error, "SANDBOX_LOAD_FAILED").toRecorded(),
      };
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
      const output = await plugin.call(
        execution.pin.entrypoint,
        canonicalJson(execution.input),
        state,
      );
      healthy = true;
      if (state.failure !== undefined) {
        return { ok: false, error: state.failure.toRecorded() };
      }
      return parseOutput(output?.bytes());
    } catch (error) {
      const failure = state.failure ??
        classifyCallError(error, pool.takeGuestError(plugin));
      // A guest that reported an error cleanly can be reused; anything else cannot.
      healthy = state.failure === undefined && isGuestError(error);
      return { ok: false, error: failure.toRecorded() };
    } finally {
      await pool.release(plugin, healthy);
    }
  }

  /** Closes every pool and its worker threads. */
  async close(): Promise<void> {
    const pools = await Promise.allSettled(this.#pools.values());
    this.#pools.clear();
    await Promise.all(
      pools.map((pool) =>
        pool.status === "fulfilled" ? pool.value.close() : undefined
      ),
    );
  }
}

function isGuestError(error: unknown): boolean {
  return messageOf(error).startsWith(GUEST_ERROR_PREFIX);
}

// In worker mode a trapped call rejects with a plain { message } object.
function messageOf(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as { message: unknown }).message);
  }
  return String(error);
}

function parseOutput(bytes: Uint8Array | undefined): StepOutcome {
  if (bytes === undefined || bytes.length === 0) {
    return {
      ok: false,
      error: new AosError(
        "SANDBOX_OUTPUT_INVALID",
        "the skill returned no output",
      ).toRecorded(),
    };
  }
  let output: Json;
  try {
    output = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    return {
      ok: false,
      error: new AosError(
        "SANDBOX_OUTPUT_INVALID",
        "the skill's output is not UTF-8 JSON",
        {
          cause: error,
          details: { bytes: bytes.length },
        },
      ).toRecorded(),
    };
  }
  return { ok: true, output, output_sha256: sha256Hex(bytes) };
}

/**
 * Maps what Extism threw to a catalog error. `guestLog` is the guest's last
 * error log line: skills log their abort reason there before trapping.
 */
export function classifyCallError(
  error: unknown,
  guestLog?: string,
): AosError {
  const message = messageOf(error);
  if (message.startsWith(GUEST_ERROR_PREFIX)) {
    const text = message.slice(GUEST_ERROR_PREFIX.length);
    try {
      return AosError.fromJSON(JSON.parse(text), "SKILL_ERROR");
    } catch {
      return new AosError("SKILL_ERROR", text.slice(0, 2000));
    }
  }
  if (message.includes("call canceled due to timeout")) {
    return new AosError(
      "SANDBOX_TIMEOUT",
      "the skill exceeded its time limit",
      { cause: error },
    );
  }
  const aborted = parseAbort(guestLog);
  if (aborted !== undefined) return aborted;
  return new AosError(
    "SANDBOX_TRAP",
    `the skill trapped: ${message.slice(0, 500)}`,
    { cause: error },
  );
}

function parseAbort(line: string | undefined): AosError | undefined {
  if (line === undefined) return undefined;
  try {
    const reported = JSON.parse(line);
    if (reported?.code === "SKILL_ABORTED") return AosError.fromJSON(reported);
  } catch {
    // not an abort report: the trap stands as it is
  }
  return undefined;
}
