import assert from "node:assert/strict";
import { parseExposition } from "../support/metrics_text.ts";
import { startTestPostgres } from "../support/postgres.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

Deno.test("/readyz is 503 while PostgreSQL is down and 200 once it is back; the pool gauge reads the pool", async () => {
  await using database = await startTestPostgres({ local: true });
  const node = await openTestNode({ config: { store: database.url } });
  try {
    assert.equal((await requestJson(node, "GET", "/readyz")).status, 200);
    const scrape = async () =>
      parseExposition(await (await node.app.request("/metrics")).text());
    const available = (await scrape()).get("nova_db_pool_available")!;
    assert.ok(available >= 1 && available <= 10, String(available));

    await database.crash!();
    const down = await requestJson(node, "GET", "/readyz");
    assert.equal(down.status, 503);
    assert.equal(down.body.store, false);
    assert.equal((await requestJson(node, "GET", "/healthz")).status, 200);

    await database.startAgain!();
    assert.equal((await requestJson(node, "GET", "/readyz")).status, 200);
  } finally {
    await node.close();
  }
});
