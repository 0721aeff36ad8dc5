import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import {
  FIXTURE_SKILLS,
  openTestNode,
  TEST_ADMIN_KEY,
  TEST_TENANT_KEY,
  THREE_STEP_PLAN,
} from "../../tests/support/test_node.ts";

// Every answer of a session that touches each route the API documents, on
// the happy path and on the usual refusals, is checked against the schema
// /openapi.json gives for its operation and status: a field the server adds,
// drops or retypes without the document following fails here.

type Operation = {
  responses: Record<string, {
    content?: Record<string, { schema?: unknown }>;
  }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
};

/** A request of the session. */
interface CallOptions {
  body?: unknown;
  /** Sent as the body as it is (malformed JSON, say). */
  text?: string;
  /** The tenant's key by default; null sends none. */
  key?: string | null;
  headers?: Record<string, string>;
}

/** One answer to check. */
interface Exchange {
  method: string;
  path: string;
  status: number;
  contentType: string;
  body: unknown;
}

/** The document's path template that `path` (without its query) matches. */
function templateOf(document: Document, path: string): string | undefined {
  const bare = path.split("?")[0]!;
  const segments = bare.split("/");
  let best: { template: string; literals: number } | undefined;
  for (const template of Object.keys(document.paths)) {
    const parts = template.split("/");
    if (parts.length !== segments.length) continue;
    let literals = 0;
    const fits = parts.every((part, index) => {
      if (/^\{[^}]+\}$/.test(part)) return segments[index] !== "";
      literals++;
      return part === segments[index];
    });
    if (fits && (best === undefined || literals > best.literals)) {
      best = { template, literals };
    }
  }
  return best?.template;
}

/** What the document says is wrong with `exchange`; undefined when nothing. */
function nonConformance(
  document: Document,
  validatorOf: (pointer: string) => ValidateFunction,
  exchange: Exchange,
): string | undefined {
  const where = `${exchange.method} ${exchange.path} → ${exchange.status}`;
  const template = templateOf(document, exchange.path);
  if (template === undefined) return `${where}: no documented path`;
  const method = exchange.method.toLowerCase();
  const responses = document.paths[template]![method]?.responses;
  if (responses === undefined) return `${where}: no documented operation`;
  const status = String(exchange.status);
  const key = [status, `${status[0]}XX`, "default"].find((candidate) =>
    responses[candidate] !== undefined
  );
  if (key === undefined) return `${where}: status not documented`;
  const mediaType = exchange.contentType.split(";")[0]!.trim();
  const content = responses[key]!.content;
  if (content === undefined) {
    return exchange.body === undefined
      ? undefined
      : `${where}: a body the document does not give`;
  }
  if (content[mediaType] === undefined) {
    return `${where}: ${mediaType} is not among ${Object.keys(content)}`;
  }
  if (content[mediaType]!.schema === undefined) return undefined;
  const pointer = `#/paths/${escape(template)}/${method}/responses/${key}` +
    `/content/${escape(mediaType)}/schema`;
  const validate = validatorOf(pointer);
  if (validate(exchange.body)) return undefined;
  return `${where}: ${
    JSON.stringify(
      validate.errors?.slice(0, 3).map((error) =>
        `${error.instancePath || "/"} ${error.message} (${error.schemaPath})`
      ),
    )
  }`;
}

/** The validator of the schema at a JSON pointer into `document`. */
function validatorsOf(
  document: Document,
): (pointer: string) => ValidateFunction {
  const ajv = new Ajv2020({
    strict: false,
    allErrors: true,
    validateFormats: false,
  });
  ajv.addSchema(closed(document) as object, "openapi.json");
  return (pointer) => {
    const validate = ajv.getSchema(`openapi.json${pointer}`);
    if (validate === undefined) throw new Error(`no schema at ${pointer}`);
    return validate;
  };
}

/**
 * `value` with every object schema that lists its properties and says
 * nothing of others closed to them (`additionalProperties: false`): the
 * document leaves answers open (its schemas are the request side's), and a
 * field the server adds must show here too.
 */
function closed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closed);
  if (typeof value !== "object" || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) copy[key] = closed(member);
  if (
    typeof copy.properties === "object" && !("additionalProperties" in copy)
  ) {
    copy.additionalProperties = false;
  }
  return copy;
}

function escape(part: string): string {
  return part.replaceAll("~", "~0").replaceAll("/", "~1");
}

Deno.test("every answer of the API matches the schema /openapi.json documents for its route and status", async () => {
  const node = await openTestNode();
  const exchanges: Exchange[] = [];
  const call = async (
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<Exchange> => {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? TEST_TENANT_KEY : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    const init: RequestInit = { method, headers };
    if (options.body !== undefined || options.text !== undefined) {
      headers["content-type"] = "application/json";
      init.body = options.text ?? JSON.stringify(options.body);
    }
    const response = await node.app.request(path, init);
    const contentType = response.headers.get("content-type") ?? "";
    const text = await response.text();
    const exchange = {
      method,
      path,
      status: response.status,
      contentType,
      body: contentType.startsWith("application/json")
        ? JSON.parse(text)
        : text === ""
        ? undefined
        : text,
    };
    exchanges.push(exchange);
    return exchange;
  };
  const expect = async (
    status: number,
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> => {
    const exchange = await call(method, path, options);
    assert.equal(
      exchange.status,
      status,
      `${method} ${path}: ${JSON.stringify(exchange.body)}`,
    );
    return exchange.body as Record<string, unknown>;
  };
  try {
    const document = (await expect(200, "GET", "/openapi.json", {
      key: null,
    })) as unknown as Document;
    const validatorOf = validatorsOf(document);

    // Probes and the catalog.
    await expect(200, "GET", "/healthz", { key: null });
    await expect(200, "GET", "/readyz", { key: null });
    await expect(200, "GET", "/metrics", { key: null });
    await expect(200, "GET", "/v1/errors", { key: null });

    // A run to its end, and what can be asked of it.
    const { run_id: runId } = await expect(202, "POST", "/v1/runs", {
      body: THREE_STEP_PLAN,
    });
    await expect(200, "GET", `/v1/runs/${runId}?wait_ms=30000`);
    // Submitted and waited on in one request.
    await expect(200, "POST", "/v1/runs?wait_ms=30000", {
      body: THREE_STEP_PLAN,
    });
    await expect(200, "GET", "/v1/runs");
    await expect(200, "GET", "/v1/runs?status=succeeded&limit=1");
    await expect(200, "GET", `/v1/runs/${runId}/events`);
    await expect(200, "GET", `/v1/runs/${runId}/events?from_seq=2`);
    await expect(200, "POST", `/v1/runs/${runId}/replay`);
    await expect(409, "POST", `/v1/runs/${runId}/cancel`, { body: {} });
    await expect(409, "POST", `/v1/runs/${runId}/resume`, { body: {} });
    await expect(409, "POST", `/v1/runs/${runId}/signals/go`, { body: {} });
    const fork = await expect(202, "POST", `/v1/runs/${runId}/fork`, {
      body: { from_step: "pick" },
    });
    await expect(200, "GET", `/v1/runs/${fork.run_id}?wait_ms=30000`);
    await expect(422, "POST", `/v1/runs/${runId}/fork`, {
      body: { from_step: "nowhere" },
    });

    // A run that waits for a signal, cancelled while it waits; another
    // that gets its signal.
    const waiting = {
      steps: [{ id: "wait", wait_signal: { name: "go" } }],
    };
    // Its submission waits 20 ms for an end that does not come: 202.
    const held = await expect(202, "POST", "/v1/runs?wait_ms=20", {
      body: waiting,
    });
    await expect(200, "GET", `/v1/runs/${held.run_id}?wait_ms=50`);
    await expect(202, "POST", `/v1/runs/${held.run_id}/cancel`, {
      body: { reason: "not needed" },
    });
    await expect(200, "GET", `/v1/runs/${held.run_id}?wait_ms=30000`);
    const signalled = await expect(202, "POST", "/v1/runs", { body: waiting });
    await expect(202, "POST", `/v1/runs/${signalled.run_id}/signals/go`, {
      body: { payload: { ok: true } },
    });
    await expect(200, "GET", `/v1/runs/${signalled.run_id}?wait_ms=30000`);

    // Refusals.
    await expect(401, "GET", "/v1/runs", { key: null });
    await expect(401, "GET", "/v1/runs", { key: "aos_not_a_key_0123456789" });
    await expect(404, "GET", "/v1/runs/run_nope");
    await expect(404, "POST", "/v1/runs/run_nope/cancel", { body: {} });
    await expect(400, "POST", "/v1/runs", { text: "{" });
    await expect(400, "POST", "/v1/runs", { body: { steps: [] } });
    await expect(400, "POST", "/v1/runs?wait_ms=-1", {
      body: THREE_STEP_PLAN,
    });
    await expect(400, "GET", "/v1/runs?limit=0");
    await expect(400, "POST", "/v1/runs", {
      body: { steps: [{ id: "a", skill: "no_such_skill" }] },
    });
    const once = { "idempotency-key": "order-7" };
    await expect(202, "POST", "/v1/runs", {
      body: THREE_STEP_PLAN,
      headers: once,
    });
    await expect(202, "POST", "/v1/runs", {
      body: THREE_STEP_PLAN,
      headers: once,
    });
    await expect(422, "POST", "/v1/runs", { body: waiting, headers: once });
    await expect(404, "GET", "/v1/nowhere");

    // Skills.
    await expect(200, "GET", "/v1/skills");
    const skill = await expect(200, "GET", "/v1/skills/json_transform");
    const versions = (skill.versions ?? []) as { version: string }[];
    const version = versions[0]?.version ??
      String((skill as { version?: string }).version);
    await expect(200, "GET", `/v1/skills/json_transform/${version}`);
    await expect(404, "GET", "/v1/skills/no_such_skill");
    const fixture = join(FIXTURE_SKILLS, "nonce");
    const install = await call("POST", "/v1/skills", {
      key: TEST_ADMIN_KEY,
      body: {
        manifest_yaml: await Deno.readTextFile(join(fixture, "manifest.yaml")),
        module_base64: Buffer.from(
          await Deno.readFile(join(fixture, "nonce.wasm")),
        ).toString("base64"),
      },
    });
    assert.ok(
      [200, 201].includes(install.status),
      JSON.stringify(install.body),
    );
    await expect(400, "POST", "/v1/skills", {
      key: TEST_ADMIN_KEY,
      body: { module_base64: "" },
    });

    // Tenants, keys and budgets.
    await expect(200, "GET", "/v1/tenants/me/budget");
    await expect(403, "GET", "/v1/tenants");
    await expect(200, "GET", "/v1/tenants", { key: TEST_ADMIN_KEY });
    await expect(201, "POST", "/v1/tenants", {
      key: TEST_ADMIN_KEY,
      body: { id: "acme", daily_budget_cents: 500 },
    });
    await expect(409, "POST", "/v1/tenants", {
      key: TEST_ADMIN_KEY,
      body: { id: "acme" },
    });
    const issued = await expect(201, "POST", "/v1/tenants/acme/keys", {
      key: TEST_ADMIN_KEY,
      body: {},
    });
    await expect(200, "GET", "/v1/tenants/acme/keys", { key: TEST_ADMIN_KEY });
    await expect(
      200,
      "POST",
      `/v1/tenants/acme/keys/${issued.key_id}/revoke`,
      { key: TEST_ADMIN_KEY, body: {} },
    );
    await expect(201, "POST", "/v1/tenants/acme/rotate", {
      key: TEST_ADMIN_KEY,
      body: {},
    });
    await expect(404, "GET", "/v1/tenants/nobody/keys", {
      key: TEST_ADMIN_KEY,
    });
    await expect(200, "GET", "/v1/calendars/mock/events");

    const problems = exchanges.flatMap((exchange) => {
      // A route the app does not serve answers with the catalog's error,
      // documented nowhere by path.
      if (exchange.path === "/v1/nowhere") return [];
      const problem = nonConformance(document, validatorOf, exchange);
      return problem === undefined ? [] : [problem];
    });
    assert.deepEqual(problems, []);
    // Every operation the document has was called: a new route joins the
    // session.
    const called = new Set(
      exchanges.map((exchange) =>
        `${exchange.method} ${templateOf(document, exchange.path)}`
      ),
    );
    const uncalled = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)
    ).filter((operation) => !called.has(operation));
    assert.deepEqual(uncalled, []);
  } finally {
    await node.close();
  }
});

Deno.test("the conformance check finds an added field, a wrong type, a missing field, and an undocumented status, media type, path or operation", async () => {
  const node = await openTestNode();
  try {
    const document = await (await node.app.request("/openapi.json"))
      .json() as Document;
    const validatorOf = validatorsOf(document);
    const check = (exchange: Partial<Exchange>) =>
      nonConformance(document, validatorOf, {
        method: "GET",
        path: "/healthz",
        status: 200,
        contentType: "application/json",
        body: { status: "ok" },
        ...exchange,
      });
    assert.equal(check({}), undefined);
    assert.match(check({ body: { status: "ok", extra: 1 } })!, /additional/);
    assert.match(check({ body: { status: 1 } })!, /status/);
    assert.match(check({ status: 418 })!, /status not documented/);
    assert.match(check({ contentType: "text/html" })!, /text\/html/);
    assert.match(check({ path: "/v1/nowhere" })!, /no documented path/);
    assert.match(
      check({ method: "DELETE" })!,
      /no documented operation/,
    );
    // A nested answer: a run's view without its steps.
    assert.match(
      check({
        path: "/v1/runs/run_x",
        body: { run_id: "run_x", status: "running" },
      })!,
      /required/,
    );
  } finally {
    await node.close();
  }
});
