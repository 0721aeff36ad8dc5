/** A plugin pool over the `spin` fixture, for the sandbox's tests. */
import { join } from "node:path";
import { SeededRandom, SimulatedClock } from "../../src/deps/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import {
  PluginPool,
  type PluginPoolOptions,
} from "../../src/sandbox/plugin_pool.ts";

/** The `spin` fixture's module: `run` loops `iterations` times, then echoes `value`. */
export const SPIN = Deno.readFileSync(
  join(PROJECT_ROOT, "tests", "fixtures", "skills", "spin", "spin.wasm"),
);

/** One worker at most, one call waiting at most, a simulated clock. */
export function spinPool(options: Partial<PluginPoolOptions> = {}): PluginPool {
  return new PluginPool({
    bytes: SPIN,
    timeoutMs: 10_000,
    kernelBytesMax: 1 << 20,
    sizeMax: 1,
    queueMax: 1,
    clock: new SimulatedClock(),
    random: new SeededRandom(3),
    ...options,
  });
}
