import { join } from "node:path";
import type { SupervisorOptions } from "../../actors/supervisor.ts";
import { DEFAULT_CONFIG, type NodeConfig } from "../../src/config/mod.ts";
import { openPostgresStore, type Store } from "../../src/store/mod.ts";
import { startTestPostgres } from "./postgres.ts";
import {
  type Clock,
  MemoryLogger,
  type RandomSource,
} from "../../src/deps/mod.ts";
import { type AosNode, type NodeSeams, openNode } from "../../src/node/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";

/** The fixture skills' folder. */
export const FIXTURE_SKILLS = join(PROJECT_ROOT, "tests", "fixtures", "skills");

/** The key of tenant `default` on every test node and test server. */
export const TEST_TENANT_KEY = "aos_test_tenant_key_default_0123456789";
/** The admin key seeded on every test node and test server. */
export const TEST_ADMIN_KEY = "aos_test_admin_key_0123456789abcdef";

/** Options of a test node. */
export interface TestNodeOptions {
  clock?: Clock;
  random?: RandomSource;
  dataDir?: string;
  config?: Partial<NodeConfig>;
  store?: Store;
  supervisor?: Partial<SupervisorOptions>;
  /** Wraps the node's sandbox (see `NodeSeams.executor`). */
  executor?: NodeSeams["executor"];
}

// AOS_TEST_STORE=postgres: node tests run on PostgreSQL, one database per
// data folder (a node reopened on the same folder finds its runs again), on
// the DATABASE_URL server (`deno task test:postgres` starts one).
const postgresByDataDir = new Map<string, Promise<string>>();

/** The database URL of a node's data folder when node tests run on PostgreSQL. */
export function postgresUrlOf(dataDir: string): Promise<string> | undefined {
  return postgresByDataDir.get(dataDir);
}

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
  return await openPostgresStore(await url);
}

/**
 * An in-process node on a fresh SQLite file (or PostgreSQL database, see
 * above) with the built-in and fixture skills and a logger that keeps lines
 * in memory. Its store is seeded with `TEST_ADMIN_KEY` and
 * `TEST_TENANT_KEY` (tenant `default`).
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
    bootstrap: { adminKey: TEST_ADMIN_KEY, tenantKey: TEST_TENANT_KEY },
    ...options.config,
  }, {
    log: logger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    ...(store === undefined ? {} : { store }),
    ...(options.supervisor === undefined
      ? {}
      : { supervisor: options.supervisor }),
    ...(options.executor === undefined ? {} : { executor: options.executor }),
  });
  return { ...node, logger, dataDir };
}

/**
 * Sends a JSON request to the node's app without a network, with
 * `TEST_TENANT_KEY` unless `options.key` says otherwise (null: no key).
 */
export async function requestJson(
  node: AosNode,
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null } = {},
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const init: RequestInit = { method };
  const headers: Record<string, string> = {};
  const key = options.key === undefined ? TEST_TENANT_KEY : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  init.headers = headers;
  const response = await node.app.request(path, init);
  return {
    status: response.status,
    body: await response.json(),
    headers: response.headers,
  };
}

/**
 * Submits `plan` (`POST /v1/runs`, which must accept it) and waits up to
 * 30 s for the run to end; its id and final view.
 */
export async function submitAndWait(
  node: AosNode,
  plan: unknown,
  options: { key?: string } = {},
): Promise<{ runId: string; view: Record<string, unknown> }> {
  const submitted = await requestJson(node, "POST", "/v1/runs", plan, options);
  if (submitted.status !== 202) {
    throw new Error(
      `submit answered ${submitted.status}: ${JSON.stringify(submitted.body)}`,
    );
  }
  const runId = String(submitted.body.run_id);
  const view = await requestJson(
    node,
    "GET",
    `/v1/runs/${runId}?wait_ms=30000`,
    undefined,
    options,
  );
  return { runId, view: view.body };
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
