import assert from "node:assert/strict";
import { join } from "node:path";
import { SeededRandom } from "../deps/mod.ts";
import type { PluginPool } from "./plugin_pool.ts";
import { spinPool } from "../../tests/support/spin_pool.ts";
import { PROFILE_DIR_ENV, PROFILE_EVERY_ENV } from "./_worker_profiler.ts";

async function profilesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("with AOS_PLUGIN_CPU_PROF_DIR a plugin worker writes CPU profiles of its calls, and without it none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aos-plugin-prof-" });
  const pool = (profiled: boolean) => {
    if (profiled) {
      Deno.env.set(PROFILE_DIR_ENV, dir);
      // A profile before every answer: the test waits for nothing else.
      Deno.env.set(PROFILE_EVERY_ENV, "0");
    } else {
      Deno.env.delete(PROFILE_DIR_ENV);
      Deno.env.delete(PROFILE_EVERY_ENV);
    }
    return spinPool({ random: new SeededRandom(5) });
  };
  const callTwice = async (spins: PluginPool) => {
    const plugin = await spins.acquire();
    for (const value of ["a", "b"]) {
      const output = await spins.call(
        plugin,
        "run",
        JSON.stringify({ iterations: 10_000, value }),
        {},
      );
      assert.equal(JSON.parse(new TextDecoder().decode(output)).value, value);
    }
    await spins.release(plugin, true);
    await spins.close();
  };
  try {
    await callTwice(pool(false));
    assert.deepEqual(await profilesIn(dir), []);
    await callTwice(pool(true));
    const written = await profilesIn(dir);
    assert.equal(written.length, 2, written.join(", "));
    assert.match(written[0]!, /^plugin-\d+-1\.cpuprofile$/);
    const profile = JSON.parse(
      await Deno.readTextFile(join(dir, written[0]!)),
    ) as { nodes: unknown[]; samples: unknown[]; startTime: number };
    assert.ok(profile.nodes.length > 0);
    assert.ok(Array.isArray(profile.samples));
    assert.equal(typeof profile.startTime, "number");
  } finally {
    Deno.env.delete(PROFILE_DIR_ENV);
    Deno.env.delete(PROFILE_EVERY_ENV);
    await Deno.remove(dir, { recursive: true });
  }
});
