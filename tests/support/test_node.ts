import { join } from "node:path";
import type { SupervisorOptions } from "../../actors/supervisor.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "../../src/config/mod.ts";
import { PostgresStore, type Store } from "../../src/store/mod.ts";
import { startTestPostgres } from "./postgres.ts";
import {
  type Clock,
  MemoryLogger,
  type RandomSource,
} from "../../src/deps/mod.ts";
import { type AosNode, openNode } from "../../src/node/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";

/** The fixture skills' folder. */
export const FIXTURE_SKILLS = join(PROJECT_ROOT, "tests", "fixtures", "skills");

/** Options of a test node. */
export interface TestNodeOptions {
  clock?: Clock;
  random?: RandomSource;
  dataDir?: string;
  config?: Partial<NodeConfig>;
  store?: Store;
  supervisor?: Partial<SupervisorOptions>;
}

// AOS_TEST_STORE=postgres: node tests run on PostgreSQL, one database per
// data folder (a node reopened on the same folder finds its runs again), on
// the DATABASE_URL server (`deno task test:postgres` starts one).
const postgresByDataDir = new Map<string, Promise<string>>();

async function postgresFor(dataDir: string): Promise<Store | undefined> {
  if (Deno.env.get("AOS_TEST_STORE") !== "postgres") return undefined;
  const serverUrl = Deno.env.get("DATABASE_URL");
  if (serverUrl === undefined || serverUrl === "") {
    throw new Error("AOS_TEST_STORE=postgres needs DATABASE_URL");
  }
  let url = postgresByDataDir.get(dataDir);
  if (url === undefined) {
    url = startTestPostgres({ serverUrl }).then((database) => database.url);
    postgresByDataDir.set(dataDir, url);
  }
  return await PostgresStore.open(await url);
}

/**
 * An in-process node on a fresh SQLite file (or PostgreSQL database, see
 * above) with the built-in and fixture skills and a logger that keeps lines
 * in memory.
 */
export async function openTestNode(
  options: TestNodeOptions = {},
): Promise<AosNode & { logger: MemoryLogger; dataDir: string }> {
  const dataDir = options.dataDir ??
    Deno.makeTempDirSync({ prefix: "aos-node-" });
  const logger = new MemoryLogger();
  const store = options.store ?? await postgresFor(dataDir);
  const node = await openNode({
    ...DEFAULT_CONFIG,
    port: 0,
    dataDir,
    extraSkillDirs: ["nonce", "spin", "fetcher"].map((name) =>
      join(FIXTURE_SKILLS, name)
    ),
    ...options.config,
  }, {
    log: logger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(store === undefined ? {} : { store }),
    ...(options.supervisor === undefined
      ? {}
      : { supervisor: options.supervisor }),
  });
  return { ...node, logger, dataDir };
}

/** Sends a JSON request to the node's app without a network. */
export async function requestJson(
  node: AosNode,
  method: string,
  path: string,
  body?: unknown,
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const response = await node.app.request(path, init);
  return {
    status: response.status,
    body: await response.json(),
    headers: response.headers,
  };
}

/** A three-step json_transform plan whose outputs feed each other. */
export const THREE_STEP_PLAN = {
  steps: [
    {
      id: "extract",
      skill: "json_transform",
      params: {
        op: "extract",
        input: {
          order: {
            id: 7,
            customer: { name: "Ada", tier: "gold" },
            lines: [1, 2],
          },
        },
        path: "$.order",
      },
    },
    {
      id: "pick",
      skill: "json_transform",
      params: {
        op: "pick",
        input: "{{steps.extract.output.result}}",
        keys: ["customer", "id"],
      },
    },
    {
      id: "omit",
      skill: "json_transform",
      params: {
        op: "omit",
        input: "{{steps.pick.output.result.customer}}",
        keys: ["tier"],
      },
    },
  ],
};
