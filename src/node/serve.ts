import { loadNodeConfig } from "../config/mod.ts";
import { openNode } from "./node.ts";

/**
 * `aos serve`: opens a node and serves its API until SIGINT or SIGTERM, then
 * stops accepting requests and closes the node. Unfinished runs stay in the
 * store and resume on the next start.
 */
export async function serveCommand(args: string[]): Promise<number> {
  const config = loadNodeConfig(args, Deno.env.toObject());
  const node = await openNode(config);
  const controller = new AbortController();
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    signal: controller.signal,
    onListen: ({ hostname, port }) => {
      node.log.log("info", "listening", {
        url: `http://${hostname}:${port}`,
        data_dir: config.dataDir,
        store: config.store === "sqlite" ? "sqlite" : "postgres",
        node: config.ownership.nodeId,
      });
    },
  }, node.app.fetch);
  // Logged and counted; the process still ends, as Deno decides for an
  // unhandled rejection, and its unfinished runs resume on the next start.
  const onUnhandled = (event: PromiseRejectionEvent) => {
    node.metrics.unhandledExceptionsTotal.inc();
    node.log.log("error", "unhandled_rejection", {
      error: event.reason instanceof Error
        ? String(event.reason.stack)
        : String(event.reason),
    });
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  globalThis.removeEventListener("unhandledrejection", onUnhandled);
  await node.close();
  node.log.log("info", "stopped", {});
  return 0;
}
