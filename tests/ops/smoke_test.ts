import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { ServerProcess } from "../support/server_process.ts";

const SMOKE = join(PROJECT_ROOT, "ops", "smoke.sh");
// Seeds the tenant key on a store that has none; servers without API keys
// ignore both the variable and the header.
const TENANT_KEY = "smoke-test-tenant-key-0123456789";

async function smoke(
  url: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command("bash", {
    args: [SMOKE, url, TENANT_KEY],
    env: { AOS_SMOKE_WAIT_S: "60" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("ops/smoke.sh passes against a real aos serve, and fails when the store or the server goes away", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-smoke-" });
  const server = await ServerProcess.start({
    dataDir,
    env: { AOS_BOOTSTRAP_TENANT_KEY: TENANT_KEY },
  });
  let stopped = false;
  try {
    const passed = await smoke(server.url);
    assert.equal(passed.code, 0, passed.stdout + passed.stderr);
    for (
      const check of [
        "liveness",
        "readiness",
        "metrics",
        "succeeded",
        "replay of run_",
        "all checks passed",
      ]
    ) assert.match(passed.stdout, new RegExp(check));

    const file = join(dataDir, "aos.db");
    await Deno.rename(file, `${file}.away`);
    const unready = await smoke(server.url);
    assert.equal(unready.code, 1, unready.stdout);
    assert.match(unready.stderr, /FAIL readiness \/readyz: HTTP 503/);
    await Deno.rename(`${file}.away`, file);

    await server.stop();
    stopped = true;
    const down = await smoke(server.url);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /FAIL GET \/healthz: no answer/);
  } finally {
    if (!stopped) await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
