import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import {
  liveRandom,
  MemoryLogger,
  SimulatedClock,
} from "../../src/deps/mod.ts";
import { openNode } from "../../src/node/mod.ts";
import type { RelayTiming } from "../../actors/relayed_signals.ts";
import type { LogRecord } from "../../src/store/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { startServer, type TestServer } from "../support/http_servers.ts";
import { TEST_ADMIN_KEY, TEST_TENANT_KEY } from "../support/test_node.ts";

/**
 * An in-process node on the SQLite store in `dataDir`, shared with the
 * other node of a test. Its sleeping runs stay held (not parked), so a
 * request about one goes to a node that is running it.
 */
export function openSharedStoreNode(
  dataDir: string,
  nodeId: string,
  options: {
    clock?: SimulatedClock;
    runsMax?: number;
    log?: MemoryLogger;
    /** How often the node looks for runs and requests (default 50 ms). */
    pollMs?: number;
    /** The runs' hard limit in records (the default's otherwise). */
    hardRecords?: number;
  } = {},
): ReturnType<typeof openNode> {
  const { clock } = options;
  return openNode({
    ...DEFAULT_CONFIG,
    port: 0,
    dataDir,
    ownership: {
      nodeId,
      leaseMs: 10_000,
      pollMs: options.pollMs ?? 50,
      runsMax: options.runsMax ?? 10,
      parkMinMs: 86_400_000,
    },
    runLog: {
      ...DEFAULT_CONFIG.runLog,
      ...(options.hardRecords === undefined
        ? {}
        : { hardRecords: options.hardRecords }),
    },
    bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
  }, {
    log: options.log ?? new MemoryLogger(),
    ...(clock === undefined ? {} : { clock }),
  });
}

/**
 * Submits `plan`, whose first step sleeps, to `node` (tenant `default`),
 * and resolves once its timer is armed there: the run is then running on
 * `node`, which holds it. Answers the run and its TimerScheduled record.
 */
export async function runNapping(
  node: Awaited<ReturnType<typeof openNode>>,
  plan: Parameters<
    Awaited<ReturnType<typeof openNode>>["runtime"]["submit"]
  >[0],
): Promise<{ runId: string; timer: LogRecord }> {
  const { run_id: runId } = await node.runtime.submit(plan, {
    tenant: "default",
  });
  const timer = await node.runtime.waitForRecord(
    runId,
    (record) => record.type === "TimerScheduled",
  );
  return { runId, timer };
}

/**
 * How a test's own relay (`RelayedSignals`, `RelayedResumes`) waits: 30 s
 * in looks 200 ms apart, on the simulated clock it answers with.
 */
export function senderTiming(): RelayTiming & { clock: SimulatedClock } {
  const clock = new SimulatedClock(0);
  return {
    clock,
    random: liveRandom,
    log: new MemoryLogger(),
    waitMs: 30_000,
    pollMs: 200,
    closing: () => false,
  };
}

/** Options of `startClusterNode`. */
export interface ClusterNodeOptions {
  storeUrl: string;
  nodeId: string;
  /** Loopback `host:port` the node's skills may call. */
  allowLoopback: string;
  leaseMs: number;
  pollMs?: number;
}

/** An `aos serve` process on a shared PostgreSQL. */
export function startClusterNode(
  options: ClusterNodeOptions,
): Promise<ServerProcess> {
  return ServerProcess.start({
    dataDir: Deno.makeTempDirSync({ prefix: `aos-${options.nodeId}-` }),
    args: [
      "--store",
      options.storeUrl,
      "--node-id",
      options.nodeId,
      "--http-allow-loopback",
      options.allowLoopback,
      "--lease-ms",
      String(options.leaseMs),
    ],
    env: { AOS_CLAIM_POLL_MS: String(options.pollMs ?? 500) },
  });
}

/**
 * A loopback server that stands for the outside world: every request to
 * `/effect/<key>` asks for one side effect, named by key. Like a real
 * effect API it honours `Idempotency-Key`: an effect is applied once per
 * idempotency key, and a request repeating a key gets the answer of the
 * first (awaiting it if that one is still in flight) without applying
 * anything. Requests may be held (`hold`) until the test lets them through.
 */
export interface EffectServer extends TestServer {
  /** Requests received (raw deliveries) per key, in arrival order of keys. */
  counts: Map<string, number>;
  /** The `Idempotency-Key` of every delivery per key, in arrival order (null: none). */
  keys: Map<string, (string | null)[]>;
  /** Times each key's effect was applied: once per distinct idempotency key. */
  applied: Map<string, number>;
  /** Resolves once `key` has been requested `count` times. */
  requested(key: string, count?: number): Promise<void>;
  /** Holds later requests (for `key` only, when given) until `release()`. */
  hold(key?: string): void;
  release(): void;
}

export function startEffectServer(): EffectServer {
  const counts = new Map<string, number>();
  const keys = new Map<string, (string | null)[]>();
  const applied = new Map<string, number>();
  const answers = new Map<
    string,
    { key: string; answer: Promise<Record<string, unknown>> }
  >();
  const watchers: { key: string; count: number; resolve: () => void }[] = [];
  let receipts = 0;
  let gate: Promise<void> | undefined;
  let gatedKey: string | undefined;
  let open: () => void = () => {};
  const apply = async (key: string) => {
    applied.set(key, (applied.get(key) ?? 0) + 1);
    const receipt = ++receipts;
    if (gate !== undefined && (gatedKey === undefined || gatedKey === key)) {
      await gate;
    }
    return { effect: key, done: true, receipt };
  };
  const server = startServer(async (request) => {
    const key = new URL(request.url).pathname.replace(/^\/effect\//, "");
    const idempotencyKey = request.headers.get("idempotency-key");
    await request.body?.cancel();
    counts.set(key, (counts.get(key) ?? 0) + 1);
    keys.set(key, [...keys.get(key) ?? [], idempotencyKey]);
    for (const watcher of [...watchers]) {
      if (watcher.key === key && counts.get(key)! >= watcher.count) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
    if (idempotencyKey === null) return Response.json(await apply(key));
    const stored = answers.get(idempotencyKey);
    if (stored === undefined) {
      const answer = apply(key);
      answers.set(idempotencyKey, { key, answer });
      return Response.json(await answer);
    }
    // As effect APIs do, a key reused for another request is refused.
    if (stored.key !== key) {
      return Response.json({ error: "idempotency key reused" }, {
        status: 422,
      });
    }
    return Response.json(await stored.answer);
  });
  return {
    ...server,
    counts,
    keys,
    applied,
    requested(key, count = 1) {
      if ((counts.get(key) ?? 0) >= count) return Promise.resolve();
      return new Promise((resolve) => watchers.push({ key, count, resolve }));
    },
    hold(key) {
      gatedKey = key;
      gate = new Promise((resolve) => open = resolve);
    },
    release() {
      gate = undefined;
      open();
    },
  };
}

/**
 * Sends a request as a well-behaved client of tenant `default`
 * (`TEST_TENANT_KEY`): a 503 is retried after its Retry-After (bounded
 * attempts); any other answer is returned. Every status seen is reported to
 * `seen`.
 */
export async function clientRequest(
  url: string,
  init: RequestInit,
  seen: (status: number) => void,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) {
    headers.set("authorization", `Bearer ${TEST_TENANT_KEY}`);
  }
  for (let attempt = 0;; attempt++) {
    const response = await fetch(url, { ...init, headers });
    seen(response.status);
    if (response.status !== 503 || attempt >= 50) return response;
    const retryAfterS = Number(response.headers.get("retry-after") ?? "1");
    await response.body?.cancel();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(retryAfterS, 1) * 200)
    );
  }
}
