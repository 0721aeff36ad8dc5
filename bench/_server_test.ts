import assert from "node:assert/strict";
import { startFlags } from "./_server.ts";

Deno.test("startFlags takes the deno run flags of the start task", () => {
  assert.deepEqual(
    startFlags({
      start: "deno run -A --v8-flags=--max-semi-space-size=8 main.ts serve",
    }),
    ["--v8-flags=--max-semi-space-size=8"],
  );
  assert.deepEqual(startFlags({ start: "deno run -A main.ts serve" }), []);
});

Deno.test("startFlags refuses a start task that does not run main.ts", () => {
  assert.throws(
    () => startFlags({ start: "deno run -A other.ts" }),
    /start task is not/,
  );
  assert.throws(() => startFlags({}), /start task is not/);
});

Deno.test("the project's start task parses", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { tasks: Record<string, string> };
  const flags = startFlags(config.tasks);
  for (const flag of flags) assert.match(flag, /^--/);
});
