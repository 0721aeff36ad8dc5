/** Sandbox benchmarks: warm call, cold start, time-limit enforcement. */
import { join } from "node:path";
import type { HostCallPort } from "../actors/run_ports.ts";
import type { SkillPin } from "../actors/run_messages.ts";
import { liveClock, liveRandom } from "../src/deps/mod.ts";
import { PluginPool } from "../src/sandbox/plugin_pool.ts";
import { Sandbox } from "../src/sandbox/mod.ts";
import { PROJECT_ROOT } from "../src/skills/build.ts";
import { parseManifest } from "../src/skills/manifest.ts";
import { sha256Hex } from "../src/store/mod.ts";
import { type BenchResult, percentile } from "./_report.ts";

const FIXTURES = join(PROJECT_ROOT, "tests", "fixtures", "skills");
const noHostCalls: HostCallPort = {
  recorded: [],
  persist: () => Promise.resolve(),
};

function loadSkill(
  dir: string,
): {
  bytes: Uint8Array;
  pin: SkillPin;
  manifest: ReturnType<typeof parseManifest>;
} {
  const manifest = parseManifest(
    Deno.readTextFileSync(join(dir, "manifest.yaml")),
  );
  const bytes = Deno.readFileSync(join(dir, `${manifest.name}.wasm`));
  const pin = {
    name: manifest.name,
    version: manifest.version,
    sha256: sha256Hex(bytes),
    entrypoint: manifest.entrypoint,
    timeout_ms: manifest.timeout_ms,
  };
  return { bytes, pin, manifest };
}

/**
 * Warm calls of a trivial skill through the sandbox (input and output
 * schemas, journal, output checks and hash included): latency one at a
 * time, throughput with four callers sharing two instances.
 */
export async function skillCall(): Promise<BenchResult> {
  const skill = loadSkill(join(FIXTURES, "spin"));
  const sandbox = new Sandbox({
    modules: {
      module: () =>
        Promise.resolve({ bytes: skill.bytes, manifest: skill.manifest }),
    },
    clock: liveClock,
    random: liveRandom,
    poolSizeMax: 2,
    // Both instances from the start: the figure is two instances' worth,
    // not a node's pool waiting to grow.
    poolGrowAfterMs: 0,
  });
  // Every call must succeed with its own value: a failing sandbox is fast
  // too, and must not pass for a fast one.
  const execute = async (index: number) => {
    const outcome = await sandbox.execute({
      run_id: "bench",
      step: "s",
      attempt: 1,
      pin: skill.pin,
      input: { iterations: 0, value: index },
      hostCalls: noHostCalls,
    });
    if (!outcome.ok || (outcome.output as { value: number }).value !== index) {
      throw new Error(`call ${index} failed: ${JSON.stringify(outcome)}`);
    }
  };
  try {
    for (let index = 0; index < 500; index++) await execute(index);
    const latenciesUs: number[] = [];
    for (let index = 0; index < Number(Deno.env.get("N") ?? 5000); index++) {
      const started = performance.now();
      await execute(index);
      latenciesUs.push((performance.now() - started) * 1000);
    }
    latenciesUs.sort((a, b) => a - b);
    const calls = 20_000;
    const started = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < calls) await execute(next++);
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
    const callsPerSecond = calls / ((performance.now() - started) / 1000);
    return {
      scenario: "skill_call",
      figures: {
        p50_us: Math.round(percentile(latenciesUs, 0.5)),
        p99_us: Math.round(percentile(latenciesUs, 0.99)),
        calls_per_s: Math.round(callsPerSecond),
      },
      targets: {
        p50_us: { op: "<=", value: 250 },
        calls_per_s: { op: ">=", value: 5_000 },
      },
    };
  } finally {
    await sandbox.close();
  }
}

/** Compile + first call of a module never seen, and instantiation of a compiled one. */
export async function coldStart(): Promise<BenchResult> {
  const skill = loadSkill(join(PROJECT_ROOT, "skills-wasm", "json_transform"));
  const input = JSON.stringify({ op: "pick", input: { a: 1 }, keys: ["a"] });
  const options = {
    timeoutMs: 5_000,
    kernelBytesMax: 1 << 24,
    sizeMax: 1,
    queueMax: 1,
    clock: liveClock,
    random: liveRandom,
  };
  const coldMs: number[] = [];
  for (let index = 0; index < 10; index++) {
    const started = performance.now();
    const pool = new PluginPool({ ...options, bytes: skill.bytes });
    const plugin = await pool.acquire();
    await pool.call(plugin, "run", input, {});
    coldMs.push(performance.now() - started);
    await pool.release(plugin, true);
    await pool.close();
  }
  const compileMs: number[] = [];
  const module = await WebAssembly.compile(
    skill.bytes as Uint8Array<ArrayBuffer>,
  );
  for (let index = 0; index < 50; index++) {
    const started = performance.now();
    await WebAssembly.compile(skill.bytes as Uint8Array<ArrayBuffer>);
    compileMs.push(performance.now() - started);
  }
  const instantiateMs: number[] = [];
  const imports = stubImports(module);
  for (let index = 0; index < 50; index++) {
    const started = performance.now();
    await WebAssembly.instantiate(module, imports);
    instantiateMs.push(performance.now() - started);
  }
  coldMs.sort((a, b) => a - b);
  compileMs.sort((a, b) => a - b);
  instantiateMs.sort((a, b) => a - b);
  return {
    scenario: "cold_start",
    figures: {
      module_kb: Math.round(skill.bytes.length / 1024),
      first_call_p50_ms: round(percentile(coldMs, 0.5)),
      compile_p50_ms: round(percentile(compileMs, 0.5)),
      cached_instantiate_p50_ms: round(percentile(instantiateMs, 0.5)),
    },
    targets: {
      first_call_p50_ms: { op: "<=", value: 50 },
      cached_instantiate_p50_ms: { op: "<=", value: 5 },
    },
    notes:
      "first_call includes starting the worker thread that isolates the plugin",
  };
}

/** An infinite loop under a 100 ms limit: how long until the call is stopped. */
export async function timeoutEnforcement(): Promise<BenchResult> {
  const skill = loadSkill(join(FIXTURES, "spin"));
  const pool = new PluginPool({
    bytes: skill.bytes,
    timeoutMs: 100,
    kernelBytesMax: 1 << 20,
    sizeMax: 1,
    queueMax: 1,
    clock: liveClock,
    random: liveRandom,
  });
  const stoppedMs: number[] = [];
  try {
    for (let index = 0; index < 10; index++) {
      const plugin = await pool.acquire();
      const started = performance.now();
      await pool.call(
        plugin,
        "run",
        JSON.stringify({ iterations: 1_000_000_000, value: 0 }),
        {},
      ).catch(() => {});
      stoppedMs.push(performance.now() - started);
      await pool.release(plugin, false);
    }
  } finally {
    await pool.close();
  }
  stoppedMs.sort((a, b) => a - b);
  return {
    scenario: "timeout_enforcement",
    figures: {
      limit_ms: 100,
      stopped_p50_ms: round(percentile(stoppedMs, 0.5)),
      stopped_max_ms: round(stoppedMs[stoppedMs.length - 1]!),
    },
    targets: { stopped_max_ms: { op: "<=", value: 150 } },
  };
}

function stubImports(module: WebAssembly.Module): WebAssembly.Imports {
  const imports: Record<string, Record<string, () => number>> = {};
  for (const entry of WebAssembly.Module.imports(module)) {
    (imports[entry.module] ??= {})[entry.name] = () => 0;
  }
  return imports as unknown as WebAssembly.Imports;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
