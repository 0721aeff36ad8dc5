/**
 * The fencing path step by step, in process and without waiting on time:
 * the nodes' lease clocks are simulated, so the stale node cannot learn of
 * its loss through a renewal and its next append is what the store refuses.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import {
  type LogFields,
  type Logger,
  type LogLevel,
  SimulatedClock,
} from "../../src/deps/mod.ts";
import { type AosNode, openNode } from "../../src/node/mod.ts";
import { startServer } from "../support/http_servers.ts";

/** A logger that keeps lines and lets a test wait for one. */
class WatchedLogger implements Logger {
  readonly lines: ({ event: string } & LogFields)[] = [];
  #watchers: {
    match: (line: { event: string } & LogFields) => boolean;
    resolve: () => void;
  }[] = [];
  enabled(): boolean {
    return true;
  }
  log(_level: LogLevel, event: string, fields: LogFields = {}): void {
    const line = { event, ...fields };
    this.lines.push(line);
    for (const watcher of [...this.#watchers]) {
      if (!watcher.match(line)) continue;
      this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
      watcher.resolve();
    }
  }
  waitFor(
    match: (line: { event: string } & LogFields) => boolean,
  ): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ match, resolve }));
  }
}

Deno.test("fencing: a node whose lease was taken over has its next append refused by the store and drops the run", async () => {
  let requests = 0;
  let requestSeen!: () => void;
  const firstRequest = new Promise<void>((resolve) => requestSeen = resolve);
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => answer = resolve);
  await using server = startServer(async () => {
    requests++;
    requestSeen();
    await answered;
    return Response.json({ ok: true });
  });
  const dataDir = Deno.makeTempDirSync({ prefix: "aos-fence-" });
  const startMs = 1_800_000_000_000;
  const open = (nodeId: string, leaseClock: SimulatedClock, log: Logger) =>
    openNode({
      ...DEFAULT_CONFIG,
      port: 0,
      dataDir,
      ownership: { nodeId, leaseMs: 1_000, pollMs: 100, runsMax: 10 },
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: [{ host: "127.0.0.1", port: server.port }],
      },
    }, { log, leaseClock });
  const staleLog = new WatchedLogger();
  const stale = await open("stale", new SimulatedClock(startMs), staleLog);
  let successor: AosNode | undefined;
  try {
    const { run_id: runId } = await stale.runtime.submit({
      steps: [{
        id: "call",
        skill: "http_call",
        params: { url: `http://127.0.0.1:${server.port}/effect` },
      }],
    }, { tenant: "default" });
    await firstRequest;
    assert.equal((await stale.store.getLease(runId))?.owner, "stale");

    // Past the stale node's lease on the successor's clock: it takes over.
    const successorLog = new WatchedLogger();
    successor = await open(
      "successor",
      new SimulatedClock(startMs + 5_000),
      successorLog,
    );
    assert.deepEqual(
      await successor.store.getLease(runId).then((lease) => lease?.epoch),
      2,
    );
    answer();
    await staleLog.waitFor((line) =>
      line.event === "lease_lost" && line.run_id === runId
    );
    const refusal = staleLog.lines.find((line) =>
      line.event === "append_refused"
    );
    assert.equal(refusal?.code, "STORE_LEASE_LOST");
    assert.equal(refusal?.epoch, 1);
    assert.equal(
      staleLog.lines.find((line) => line.event === "lease_lost")?.reason,
      "append_refused",
    );
    await successor.runtime.waitForEnd(runId, 30_000);
    const log = await successor.store.readLog(runId);
    assert.equal((await successor.store.getRun(runId))?.status, "succeeded");
    assert.equal(log.filter((r) => r.type === "RunSucceeded").length, 1);
    // Only the successor's answer is in the log: one HostCall.
    assert.equal(log.filter((r) => r.type === "HostCall").length, 1);
    assert.equal(requests, 2);
  } finally {
    await successor?.close();
    await stale.close();
  }
});
