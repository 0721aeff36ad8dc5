// The shared abort handler (skills-wasm/_lib/abi.ts), on a throwaway skill
// that aborts on request, run through the real Extism JS SDK.
import assert from "node:assert/strict";
import createPlugin, { type ExtismPluginOptions } from "@extism/extism";
import { join } from "node:path";
import { buildSkills, PROJECT_ROOT } from "../../src/skills/build.ts";
import { callSkillText, importModules, sectionIds } from "./_harness.ts";

const SOURCE = `import { readInput, writeOutput } from "../../_lib/abi";
export function run(): i32 {
  const input = readInput();
  if (input == "throw") throw new Error("boom \\"quoted\\"");
  if (input == "index") return [1, 2][5];
  writeOutput("{}");
  return 0;
}
`;

async function buildAborter(): Promise<{ root: string; wasm: Uint8Array }> {
  const root = await Deno.makeTempDir({ prefix: "aos-skill-abort-" });
  const lib = join(PROJECT_ROOT, "skills-wasm", "_lib");
  await Deno.mkdir(join(root, "skills-wasm", "_lib"), { recursive: true });
  for await (const entry of Deno.readDir(lib)) {
    await Deno.copyFile(
      join(lib, entry.name),
      join(root, "skills-wasm", "_lib", entry.name),
    );
  }
  const dir = join(root, "skills-wasm", "aborter");
  await Deno.mkdir(join(dir, "assembly"), { recursive: true });
  await Deno.writeTextFile(join(dir, "assembly", "index.ts"), SOURCE);
  await Deno.writeTextFile(
    join(dir, "manifest.yaml"),
    "name: aborter\nversion: 0.0.1\ninput_schema: {}\noutput_schema: {}\n",
  );
  const [built] = await buildSkills([dir], { ifStale: false, root });
  return { root, wasm: await Deno.readFile(built!.wasmPath) };
}

/**
 * In worker mode the SDK rejects a trapped call with a plain
 * `{ message, originalStack }` object, not an Error.
 */
function isTrap(error: unknown): boolean {
  return (error as { message?: unknown }).message === "unreachable";
}

Deno.test("skillAbort logs SKILL_ABORTED with its source position, then traps", async () => {
  const { root, wasm } = await buildAborter();
  const errors: string[] = [];
  // The SDK types its logger as Node's Console; only error() is used here.
  const logger = {
    ...console,
    error: (message: string) => errors.push(message),
  } as unknown as NonNullable<ExtismPluginOptions["logger"]>;
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    logger,
    logLevel: "error",
  });
  try {
    assert.deepEqual(importModules(wasm), ["extism:host/env"]);
    assert.ok(!sectionIds(wasm).includes(8));
    // A trap loses the error_set block in the JS SDK; the log line remains.
    await assert.rejects(callSkillText(plugin, "throw"), isTrap);
    assert.deepEqual(errors.map((line) => JSON.parse(line)), [{
      code: "SKILL_ABORTED",
      message: 'boom "quoted"',
      details: {
        file: "skills-wasm/aborter/assembly/index.ts",
        line: 4,
        column: 25,
      },
    }]);
    // The instance survives for the next call, and a later abort is reported too.
    assert.deepEqual(await callSkillText(plugin, "ok"), {
      ok: true,
      text: "{}",
    });
    await assert.rejects(callSkillText(plugin, "index"), isTrap);
    assert.equal(errors.length, 2);
    const second = JSON.parse(errors[1]!);
    assert.equal(second.code, "SKILL_ABORTED");
    assert.equal(second.message, "Index out of range");
    assert.equal(second.details.file, "~lib/array.ts");
  } finally {
    await plugin.close();
    await Deno.remove(root, { recursive: true });
  }
});
