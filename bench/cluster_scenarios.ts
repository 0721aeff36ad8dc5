/**
 * Run throughput of whole nodes: `aos serve` processes on the SQLite
 * default and on one PostgreSQL shared by 1, 2 and 3 nodes. Each
 * configuration gets the same runs (three json_transform steps each),
 * submitted round-robin over its nodes by concurrent clients; runs/s is
 * runs over the time from the first submission to the last run's end.
 */
import { startTestPostgres } from "../tests/support/postgres.ts";
import { ServerProcess } from "../tests/support/server_process.ts";
import { THREE_STEP_PLAN } from "../tests/support/test_node.ts";
import { type BenchResult, machine } from "./_report.ts";

const RUNS = 200;
const CLIENTS = 16;

async function throughput(nodes: ServerProcess[]): Promise<number> {
  const startedMs = performance.now();
  let next = 0;
  const client = async () => {
    while (next < RUNS) {
      const index = next++;
      const node = nodes[index % nodes.length]!;
      const submitted = await node.request("POST", "/v1/runs", THREE_STEP_PLAN);
      if (submitted.status !== 202) {
        throw new Error(`submit: ${JSON.stringify(submitted.body)}`);
      }
      const view = await node.request(
        "GET",
        `/v1/runs/${submitted.body.run_id}?wait_ms=60000`,
      );
      if (view.body.status !== "succeeded") {
        throw new Error(`run: ${JSON.stringify(view.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return RUNS / ((performance.now() - startedMs) / 1000);
}

async function withNodes(
  count: number,
  args: (index: number) => string[],
): Promise<number> {
  const nodes: ServerProcess[] = [];
  try {
    for (let index = 0; index < count; index++) {
      nodes.push(
        await ServerProcess.start({
          dataDir: Deno.makeTempDirSync({ prefix: "aos-bench-" }),
          args: args(index),
        }),
      );
    }
    return await throughput(nodes);
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/** Runs/s on SQLite (one node) and on PostgreSQL with 1, 2 and 3 nodes. */
export async function clusterThroughput(): Promise<BenchResult> {
  const figures: Record<string, number> = {};
  const round = (value: number) => Math.round(value * 10) / 10;
  figures.sqlite_1_node_runs_per_s = round(await withNodes(1, () => []));
  for (const count of [1, 2, 3]) {
    // A fresh database for each size, so each starts from an empty store.
    const database = await startTestPostgres({ local: true, durable: true });
    try {
      figures[`postgres_${count}_nodes_runs_per_s`] = round(
        await withNodes(count, (index) => [
          "--store",
          database.url,
          "--node-id",
          `bench${index}`,
        ]),
      );
    } finally {
      await database.stop();
    }
  }
  return {
    scenario: "cluster_throughput",
    figures,
    targets: {},
    notes: `${RUNS} runs of three json_transform steps, ${CLIENTS} clients, ` +
      `one machine (${JSON.stringify(machine())}): every node and the ` +
      `database share its cores, so more nodes add coordination, not CPU. ` +
      `PostgreSQL is a throwaway local server, durable like a production ` +
      `one (fsync, synchronous_commit and full_page_writes on); SQLite syncs ` +
      `every commit (synchronous=FULL). Figures are noisy on a busy machine.`,
  };
}
