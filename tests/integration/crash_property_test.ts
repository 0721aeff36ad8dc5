/**
 * Property: for random plans over deterministic skills, killing the server
 * (kill -9) at random points and restarting it changes nothing a run
 * records. Each run's log, seen as the sequence of its messages (type and
 * body; times and ids aside), and its output equal those of an
 * uninterrupted run of the same plan in a separate node. Seeded; the seed is
 * printed on failure.
 */
import assert from "node:assert/strict";
import { SeededRandom } from "../../src/deps/mod.ts";
import {
  canonicalJson,
  type LogRecord,
  sha256Hex,
} from "../../src/store/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import {
  FIXTURE_SKILLS,
  openTestNode,
  requestJson,
} from "../support/test_node.ts";

const SEED = Number(Deno.env.get("AOS_PROPERTY_SEED") ?? 20261125);
const PLANS = 8;

function randomPlan(random: SeededRandom, index: number): unknown {
  const byte = () => random.bytes(1)[0]!;
  const length = 2 + (byte() % 4);
  const steps: unknown[] = [{
    id: "s0",
    skill: "spin",
    params: {
      iterations: 2_000_000 + byte() * 20_000,
      value: { plan: index, items: [byte(), byte(), byte()] },
    },
  }];
  for (let step = 1; step < length; step++) {
    const previous = `{{steps.s${step - 1}.output}}`;
    steps.push(
      byte() % 2 === 0
        ? {
          id: `s${step}`,
          skill: "spin",
          params: { iterations: 1_000_000 + byte() * 10_000, value: previous },
        }
        : {
          id: `s${step}`,
          skill: "json_transform",
          params: { op: "pick", input: previous, keys: ["value", "checksum"] },
        },
    );
  }
  return { concurrency: 1, steps };
}

/** A log as what it says: each record's type and body, without times, ids or hashes. */
function logicalDigest(records: readonly LogRecord[]): string {
  return sha256Hex(
    canonicalJson(records.map((record) => [record.type, record.body])),
  );
}

Deno.test(`random kill -9 points change no recorded outcome (seed ${SEED})`, async () => {
  const random = new SeededRandom(SEED);
  const plans = Array.from(
    { length: PLANS },
    (_, index) => randomPlan(random, index),
  );

  const reference = await openTestNode();
  const expected: { digest: string; output: unknown }[] = [];
  try {
    for (const plan of plans) {
      const { body } = await requestJson(reference, "POST", "/v1/runs", plan);
      const view = (await requestJson(
        reference,
        "GET",
        `/v1/runs/${body.run_id}?wait_ms=60000`,
      )).body;
      assert.equal(view.status, "succeeded");
      expected.push({
        digest: logicalDigest(
          await reference.store.readLog(String(body.run_id)),
        ),
        output: view.output,
      });
    }
  } finally {
    await reference.close();
  }

  const dataDir = Deno.makeTempDirSync({ prefix: "aos-property-" });
  const args = [
    "--log-level",
    "debug",
    "--skills-dir",
    `${FIXTURE_SKILLS}/spin`,
  ];
  let server = await ServerProcess.start({ dataDir, args });
  const runIds: string[] = [];
  for (const plan of plans) {
    runIds.push(
      String((await server.request("POST", "/v1/runs", plan)).body.run_id),
    );
  }
  const kills = [
    1 + (random.bytes(1)[0]! % 12),
    1 + (random.bytes(1)[0]! % 12),
  ];
  try {
    for (const after of kills) {
      // The kill point is the after-th record this server appends, or the
      // runs' end when they end before it (a restarted server may have
      // fewer than that left to append, and would otherwise be waited for
      // forever).
      const current = server;
      const allEnded = Promise.all(
        runIds.map((runId) =>
          current.request("GET", `/v1/runs/${runId}?wait_ms=60000`)
        ),
      ).catch(() => {});
      await Promise.race([
        current.waitForCount(
          (line) => line.event === "record_appended",
          after,
        ),
        allEnded,
      ]);
      await server.stop("SIGKILL");
      // The waits still open end with the server.
      await allEnded;
      server = await ServerProcess.start({ dataDir, args });
    }
    for (const [index, runId] of runIds.entries()) {
      const view =
        (await server.request("GET", `/v1/runs/${runId}?wait_ms=60000`)).body;
      assert.equal(view.status, "succeeded", `seed ${SEED}, plan ${index}`);
      const events = (await server.request("GET", `/v1/runs/${runId}/events`))
        .body.events as LogRecord[];
      assert.equal(
        logicalDigest(events),
        expected[index]!.digest,
        `seed ${SEED}, plan ${index}: the log differs`,
      );
      assert.deepEqual(
        view.output,
        expected[index]!.output,
        `seed ${SEED}, plan ${index}: the output differs`,
      );
    }
  } finally {
    await server.stop();
  }
});
