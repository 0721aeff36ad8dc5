import assert from "node:assert/strict";
import { EXIT } from "../../src/cli/mod.ts";
import { aos } from "../support/aos_cli.ts";
import { ServerProcess } from "../support/server_process.ts";
import { TEST_ADMIN_KEY, TEST_TENANT_KEY } from "../support/test_node.ts";

Deno.test("aos tenants creates tenants and issues, lists, revokes and rotates their keys on a real server", async () => {
  const server = await ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: "aos-tenants-cli-" }),
  });
  try {
    const admin = { AOS_URL: server.url, AOS_KEY: TEST_ADMIN_KEY };
    const as = (key: string) => ({ AOS_URL: server.url, AOS_KEY: key });
    const created = await aos(
      ["tenants", "create", "acme", "--daily-budget-cents", "500", "--json"],
      admin,
    );
    assert.equal(created.code, EXIT.ok, created.stderr);
    const first = JSON.parse(created.stdout);
    assert.match(first.key, /^aos_/);

    const listed = await aos(["tenants", "list"], admin);
    assert.equal(listed.code, EXIT.ok, listed.stderr);
    assert.match(listed.stdout, /^TENANT\s+DAILY BUDGET CENTS\s+CREATED$/m);
    assert.match(listed.stdout, /^acme\s+500\s/m);
    assert.match(listed.stdout, /^default\s+default\s/m);

    const again = await aos(["tenants", "create", "acme"], admin);
    assert.equal(again.code, EXIT.failure);
    assert.match(again.stderr, /TENANT_EXISTS/);

    const second = await aos(["tenants", "keys", "create", "acme"], admin);
    assert.equal(second.code, EXIT.ok, second.stderr);
    const secondKey = /^key\s+(\S+)$/m.exec(second.stdout)![1]!;

    const budget = await aos(["tenants", "budget", "--json"], as(first.key));
    assert.equal(budget.code, EXIT.ok, budget.stderr);
    assert.equal(JSON.parse(budget.stdout).limit_cents, 500);

    const revoked = await aos(
      ["tenants", "keys", "revoke", "acme", first.key_id],
      admin,
    );
    assert.equal(revoked.code, EXIT.ok, revoked.stderr);
    const refused = await aos(["tenants", "budget"], as(first.key));
    assert.equal(refused.code, EXIT.failure);
    assert.match(refused.stderr, /AUTH_KEY_INVALID/);

    const rotated = await aos(["tenants", "rotate", "acme", "--json"], admin);
    assert.equal(rotated.code, EXIT.ok, rotated.stderr);
    assert.equal(
      (await aos(["tenants", "budget"], as(secondKey))).code,
      EXIT.failure,
    );
    const fresh = await aos(
      ["tenants", "budget"],
      as(JSON.parse(rotated.stdout).key),
    );
    assert.equal(fresh.code, EXIT.ok, fresh.stderr);
    assert.match(
      fresh.stdout,
      /^acme\s+\d{4}-\d{2}-\d{2}\s+500\s+0\s+0\s+500$/m,
    );

    const keys = await aos(
      ["tenants", "keys", "list", "acme", "--json"],
      admin,
    );
    assert.deepEqual(
      JSON.parse(keys.stdout).keys.map((key: { revoked_at: unknown }) =>
        key.revoked_at === null
      ),
      [false, false, true],
    );
    const nobody = await aos(["tenants", "keys", "list", "nobody"], admin);
    assert.equal(nobody.code, EXIT.notFound);
    assert.match(nobody.stderr, /TENANT_NOT_FOUND/);
    const forbidden = await aos(["tenants", "list"], as(TEST_TENANT_KEY));
    assert.equal(forbidden.code, EXIT.failure);
    assert.match(forbidden.stderr, /AUTH_FORBIDDEN/);
    const usage = await aos(["tenants", "frobnicate"], admin);
    assert.equal(usage.code, EXIT.usage);
  } finally {
    await server.stop();
  }
});
