import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TEST_TENANT_KEY } from "../support/test_node.ts";

const ADMIN_KEY = "cli-admin-key-0123456789abcdef";

async function aos(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}

Deno.test("aos skills install puts a third-party skill on a server and aos skills lists it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-skill-" });
  const manifest = {
    name: "acme.shape",
    version: "0.3.0",
    input_schema: { type: "object" },
    output_schema: { type: "object" },
  };
  Deno.writeTextFileSync(join(dir, "manifest.yaml"), toYaml(manifest));
  Deno.copyFileSync(
    join(PROJECT_ROOT, "skills-wasm", "json_transform", "json_transform.wasm"),
    join(dir, "acme.shape.wasm"),
  );
  const server = await ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: "aos-cli-" }),
    env: { AOS_ADMIN_KEY: ADMIN_KEY },
  });
  try {
    const env = { AOS_URL: server.url };
    const refused = await aos(["skills", "install", dir], env);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /AUTH_KEY_MISSING/);
    const installed = await aos(
      ["skills", "install", dir, "--key", ADMIN_KEY],
      env,
    );
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(
      installed.stdout,
      /^installed acme\.shape@0\.3\.0 {2}sha256 [0-9a-f]{64}$/m,
    );
    const again = await aos([
      "skills",
      "install",
      join(dir, "acme.shape.wasm"),
      join(dir, "manifest.yaml"),
      "--key",
      ADMIN_KEY,
    ], env);
    assert.match(again.stdout, /already installed acme\.shape@0\.3\.0/);
    const listed = await aos(["skills"], { ...env, AOS_KEY: TEST_TENANT_KEY });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trim().split("\n");
    assert.match(lines[0]!, /^NAME\s+VERSION\s+SHA256\s+OWNER\s+TAGS$/);
    assert.ok(
      lines.some((line) => /^acme\.shape\s+0\.3\.0\s+[0-9a-f]{12}/.test(line)),
      listed.stdout,
    );
    assert.ok(lines.some((line) => line.startsWith("json_transform")));
  } finally {
    await server.stop();
  }
  const unreachable = await aos(["skills"], { AOS_URL: server.url });
  assert.equal(unreachable.code, 4);
  assert.equal((await aos(["skills", "frobnicate"], {})).code, 2);
});
