import assert from "node:assert/strict";
import { startCommand } from "./_server.ts";

Deno.test("startCommand takes the deno run flags of the start task", () => {
  assert.deepEqual(
    startCommand({
      start: "deno run -A --v8-flags=--max-semi-space-size=8 main.ts serve",
    }),
    { env: {}, flags: ["--v8-flags=--max-semi-space-size=8"] },
  );
  assert.deepEqual(startCommand({ start: "deno run -A main.ts serve" }), {
    env: {},
    flags: [],
  });
});

Deno.test("startCommand takes the environment the start task sets", () => {
  assert.deepEqual(
    startCommand({
      start:
        "MALLOC_ARENA_MAX=2 A_B=x=y deno run -A --v8-flags=--max-lazy main.ts serve",
    }),
    {
      env: { MALLOC_ARENA_MAX: "2", A_B: "x=y" },
      flags: ["--v8-flags=--max-lazy"],
    },
  );
});

Deno.test("startCommand refuses a start task that does not run main.ts", () => {
  assert.throws(
    () => startCommand({ start: "deno run -A other.ts" }),
    /start task is not/,
  );
  assert.throws(
    () => startCommand({ start: "MALLOC_ARENA_MAX=2 node main.ts" }),
    /start task is not/,
  );
  assert.throws(() => startCommand({}), /start task is not/);
});

Deno.test("the project's start task parses", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  const { env, flags } = startCommand(config.tasks);
  for (const flag of flags) assert.match(flag, /^--/);
  for (const name of Object.keys(env)) assert.match(name, /^[A-Z_]+$/);
});
