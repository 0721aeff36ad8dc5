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
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await server.finished;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await node.close();
  node.log.log("info", "stopped", {});
  return 0;
}
