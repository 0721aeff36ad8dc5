import { ServerProcess } from "../support/server_process.ts";
import { startServer, type TestServer } from "../support/http_servers.ts";

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
 * `/effect/<key>` is one side effect, counted by key. Requests may be held
 * (`hold`) until the test lets them through.
 */
export interface EffectServer extends TestServer {
  /** Requests received per key, in arrival order of keys. */
  counts: Map<string, number>;
  /** Resolves once `key` has been requested `count` times. */
  requested(key: string, count?: number): Promise<void>;
  /** Holds later requests (for `key` only, when given) until `release()`. */
  hold(key?: string): void;
  release(): void;
}

export function startEffectServer(): EffectServer {
  const counts = new Map<string, number>();
  const watchers: { key: string; count: number; resolve: () => void }[] = [];
  let gate: Promise<void> | undefined;
  let gatedKey: string | undefined;
  let open: () => void = () => {};
  const server = startServer(async (request) => {
    const key = new URL(request.url).pathname.replace(/^\/effect\//, "");
    await request.body?.cancel();
    counts.set(key, (counts.get(key) ?? 0) + 1);
    for (const watcher of [...watchers]) {
      if (watcher.key === key && counts.get(key)! >= watcher.count) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
    }
    if (gate !== undefined && (gatedKey === undefined || gatedKey === key)) {
      await gate;
    }
    return Response.json({ effect: key, done: true });
  });
  return {
    ...server,
    counts,
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
 * Sends a request as a well-behaved client: a 503 is retried after its
 * Retry-After (bounded attempts); any other answer is returned. Every
 * status seen is reported to `seen`.
 */
export async function clientRequest(
  url: string,
  init: RequestInit,
  seen: (status: number) => void,
): Promise<Response> {
  for (let attempt = 0;; attempt++) {
    const response = await fetch(url, init);
    seen(response.status);
    if (response.status !== 503 || attempt >= 50) return response;
    const retryAfterS = Number(response.headers.get("retry-after") ?? "1");
    await response.body?.cancel();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(retryAfterS, 1) * 200)
    );
  }
}
