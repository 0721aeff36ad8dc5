// llm_invoke against a real node and a fake provider on 127.0.0.1: the
// adapters' requests and answers, the key kept out of the log, every failure
// code provoked for real, cost from the price table, and replay of a
// provider call with the provider gone.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { liveClock, liveRandom } from "../../src/deps/mod.ts";
import { replayLog } from "../../src/replay/mod.ts";
import { idempotencyKey, Sandbox } from "../../src/sandbox/mod.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { readContract, runContract } from "../../src/skills/contract.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import {
  type FakeLlmServer,
  type RecordedRequest,
  type ScriptedAnswer,
  startFakeLlmServer,
} from "../support/fake_llm_server.ts";
import { closedPort } from "../support/http_servers.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";
import { skillModule } from "./_harness.ts";

const OPENAI_KEY = "sk-test-4f1c9e2ab07d4c1e9a55d3b8";
const ANTHROPIC_KEY = "sk-ant-test-93b1d0c4e8f2a7616c0e";
const CONTRACT = join(PROJECT_ROOT, "contracts", "llm_invoke.yaml");
const SKILL_DIR = "skills-wasm/llm_invoke";

type TestNode = Awaited<ReturnType<typeof openTestNode>>;

interface StepResult {
  runId: string;
  status: string;
  output: Record<string, unknown> | null;
  error: { code: string; message: string; details: Record<string, unknown> };
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** A node whose skills may reach the fake provider (and `extraPorts`) on loopback. */
function openLlmNode(
  fake: FakeLlmServer,
  extraPorts: number[] = [],
): Promise<TestNode> {
  const ports = [fake.port, ...extraPorts];
  return openTestNode({
    config: {
      http: {
        ...DEFAULT_CONFIG.http,
        loopbackAllowlist: ports.map((port) => ({ host: "127.0.0.1", port })),
        externalEnabled: true,
      },
      secrets: {
        OPENAI_API_KEY: OPENAI_KEY,
        ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      },
      // Price checks charge up to 10^10 tokens a step: far past a day's default budget.
      tenantDailyBudgetCents: Number.MAX_SAFE_INTEGER,
    },
  });
}

/** Runs a plan of llm_invoke steps (one per params) and waits for the end. */
async function runSteps(
  node: TestNode,
  paramsList: Record<string, unknown>[],
): Promise<StepResult[]> {
  const submitted = await requestJson(node, "POST", "/v1/runs", {
    steps: paramsList.map((params, index) => ({
      id: `llm${index}`,
      skill: "llm_invoke",
      params,
    })),
  });
  const runId = submitted.body.run_id;
  assert.equal(typeof runId, "string", JSON.stringify(submitted.body));
  const view = await requestJson(
    node,
    "GET",
    `/v1/runs/${runId}?wait_ms=30000`,
  );
  const steps = view.body.steps as {
    output: Record<string, unknown> | null;
    error: StepResult["error"];
  }[];
  return steps.map((step) => ({
    runId: runId as string,
    status: String(view.body.status),
    output: step.output,
    error: step.error,
  }));
}

async function runStep(
  node: TestNode,
  params: Record<string, unknown>,
): Promise<StepResult> {
  return (await runSteps(node, [params]))[0]!;
}

async function eventsText(node: TestNode, runId: string): Promise<string> {
  return JSON.stringify(
    (await requestJson(node, "GET", `/v1/runs/${runId}/events`)).body,
  );
}

async function contractPriceTable(): Promise<
  Record<
    string,
    { input_cents_per_mtok: number; output_cents_per_mtok: number }
  >
> {
  const contract = await readContract(CONTRACT);
  const costModel = contract.cost_model as { price_table?: unknown };
  assert.equal(typeof costModel?.price_table, "object");
  return costModel.price_table as Awaited<
    ReturnType<typeof contractPriceTable>
  >;
}

Deno.test("llm_invoke passes its contract's cases, and the stub asks the host nothing", async () => {
  const bytes = await skillModule(SKILL_DIR);
  const manifest = parseManifest(
    await Deno.readTextFile(join(PROJECT_ROOT, SKILL_DIR, "manifest.yaml")),
  );
  const results = await runContract(await readContract(CONTRACT), {
    bytes,
    manifest,
  });
  for (const result of results) {
    assert.ok(result.pass, `${result.name}: ${result.reason}`);
    assert.deepEqual(result.hostCalls, [], result.name);
  }
});

Deno.test("llm_invoke's price table in the module is the contract's, model for model", async () => {
  const table = await contractPriceTable();
  const models = Object.keys(table);
  assert.ok(models.length > 0);
  await using fake = startFakeLlmServer();
  const node = await openLlmNode(fake);
  try {
    // The module names every model it prices when it refuses one.
    const refused = await runStep(node, { prompt: "hi", model: "gpt-none" });
    assert.equal(refused.error.code, "ERR_LLM_INVALID_MODEL");
    assert.deepEqual(
      [...refused.error.details.known_models as string[]].sort(),
      [...models].sort(),
    );
    // 10^10 output tokens cost 10^4 × the output price, and the input price
    // (under 10^4 cents) stays readable in the last four digits.
    fake.enqueue(...models.map((): ScriptedAnswer => ({
      kind: "reply",
      content: "priced",
      inputTokens: 1_000_000,
      outputTokens: 10_000_000_000,
    })));
    const priced = await runSteps(
      node,
      models.map((model) => ({
        adapter: "openai",
        base_url: fake.origin,
        model,
        prompt: "price me",
      })),
    );
    const charged = Object.fromEntries(priced.map((step, index) => {
      const cents = step.output?.cost_cents as number;
      return [models[index], {
        input_cents_per_mtok: cents % 10_000,
        output_cents_per_mtok: Math.floor(cents / 10_000),
      }];
    }));
    assert.deepEqual(charged, table);
  } finally {
    await node.close();
  }
});

Deno.test("llm_invoke openai: answer, usage and cost; the key reaches the provider but not the log; replay without the provider is identical", async () => {
  const fake = startFakeLlmServer();
  const node = await openLlmNode(fake);
  let runId: string;
  const expected = {
    adapter: "openai",
    content: "Bonjour, ça va ?",
    content_hash: sha256Hex("Bonjour, ça va ?"),
    // ceil((120001 × 250 + 30000 × 1000) / 10^6) = ceil(60.00025)
    cost_cents: 61,
    finish_reason: "stop",
    input_tokens: 120_001,
    model: "gpt-4o",
    output_tokens: 30_000,
    side_effects: [{ adapter: "openai", kind: "llm", model: "gpt-4o" }],
  };
  try {
    fake.enqueue({
      kind: "reply",
      content: expected.content,
      inputTokens: 120_001,
      outputTokens: 30_000,
    });
    const step = await runStep(node, {
      adapter: "openai",
      base_url: `${fake.origin}/`,
      model: "gpt-4o",
      system_prompt: "Answer in French.",
      prompt: "Say hello.",
      temperature: 0.2,
      max_tokens: 50,
      seed: 7,
      stop: ["\n\n"],
    });
    runId = step.runId;
    assert.equal(step.status, "succeeded", JSON.stringify(step.error));
    assert.deepEqual(step.output, expected);

    assert.equal(fake.requests.length, 1);
    const request = fake.requests[0]!;
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/v1/chat/completions");
    assert.equal(request.headers.authorization, `Bearer ${OPENAI_KEY}`);
    assert.equal(request.headers["content-type"], "application/json");
    assert.deepEqual(request.body, {
      max_tokens: 50,
      messages: [
        { content: "Answer in French.", role: "system" },
        { content: "Say hello.", role: "user" },
      ],
      model: "gpt-4o",
      seed: 7,
      stop: ["\n\n"],
      temperature: 0.2,
    });
    const events = await eventsText(node, runId);
    assert.ok(!events.includes(OPENAI_KEY), "the key reached the run's log");
    assert.ok(events.includes("Bearer {{secret:OPENAI_API_KEY}}"));
    // The post carries the call's idempotency key, live only.
    const log = (await requestJson(node, "GET", `/v1/runs/${runId}/events`))
      .body.events as { type: string; body: Record<string, unknown> }[];
    const call = log.find((record) =>
      record.type === "HostCall" && record.body.kind === "http"
    )!.body as { step: string; attempt: number; index: number };
    const key = idempotencyKey({ run_id: runId, ...call });
    assert.equal(request.headers["idempotency-key"], key);
    assert.ok(!events.includes(key), "the idempotency key reached the log");
    assert.ok(!JSON.stringify(node.logger.lines).includes(OPENAI_KEY));
  } finally {
    await node.close();
    await fake.close();
  }

  // The provider is gone: replay must take its answer from the log.
  const replayNode = await openTestNode({ dataDir: node.dataDir });
  const sandbox = new Sandbox({
    modules: replayNode.registry,
    clock: liveClock,
    random: liveRandom,
  });
  try {
    const report = await replayLog(
      await replayNode.store.readLog(runId),
      sandbox,
    );
    assert.equal(
      report.verdict,
      "identical",
      JSON.stringify(report.divergence),
    );
  } finally {
    await sandbox.close();
    await replayNode.close();
  }
  assert.equal(fake.requests.length, 1, "replay called the provider");
});

Deno.test("llm_invoke anthropic: the Messages API request, answer, usage and cost", async () => {
  await using fake = startFakeLlmServer();
  const node = await openLlmNode(fake);
  try {
    fake.enqueue(
      {
        kind: "reply",
        content: "Kia ora.",
        inputTokens: 2_000,
        outputTokens: 500,
      },
      {
        kind: "reply",
        content: "Cut sh",
        inputTokens: 10,
        outputTokens: 3,
        finishReason: "max_tokens",
      },
    );
    const step = await runStep(node, {
      adapter: "anthropic",
      base_url: fake.origin,
      model: "claude-sonnet-4-20250514",
      system_prompt: "Be brief.",
      messages: [
        { role: "system", content: "Use te reo Māori." },
        { role: "user", content: "Greet me." },
      ],
      temperature: 0.5,
      seed: 11,
      stop: "END",
    });
    assert.equal(step.status, "succeeded", JSON.stringify(step.error));
    assert.deepEqual(step.output, {
      adapter: "anthropic",
      content: "Kia ora.",
      content_hash: sha256Hex("Kia ora."),
      // ceil((2000 × 300 + 500 × 1500) / 10^6) = ceil(1.35)
      cost_cents: 2,
      finish_reason: "stop",
      input_tokens: 2_000,
      model: "claude-sonnet-4-20250514",
      output_tokens: 500,
      side_effects: [{
        adapter: "anthropic",
        kind: "llm",
        model: "claude-sonnet-4-20250514",
      }],
    });
    const request = fake.requests[0]!;
    assert.equal(request.path, "/v1/messages");
    assert.equal(request.headers["x-api-key"], ANTHROPIC_KEY);
    assert.equal(request.headers["anthropic-version"], "2023-06-01");
    assert.equal(request.headers.authorization, undefined);
    assert.deepEqual(request.body, {
      max_tokens: 1024,
      messages: [{ content: "Greet me.", role: "user" }],
      model: "claude-sonnet-4-20250514",
      stop_sequences: ["END"],
      system: "Be brief.\n\nUse te reo Māori.",
      temperature: 0.5,
    });

    const cut = await runStep(node, {
      adapter: "anthropic",
      base_url: fake.origin,
      model: "claude-3-5-haiku-latest",
      prompt: "Tell a long story.",
      max_tokens: 3,
    });
    assert.equal(cut.output?.finish_reason, "length");
    assert.equal(
      (fake.requests[1]!.body as { max_tokens: number }).max_tokens,
      3,
    );
    const events = await eventsText(node, step.runId);
    assert.ok(!events.includes(ANTHROPIC_KEY), "the key reached the run's log");
    assert.ok(events.includes("{{secret:ANTHROPIC_API_KEY}}"));
  } finally {
    await node.close();
  }
});

interface FailureCase {
  name: string;
  adapter: "openai" | "anthropic";
  answer: ScriptedAnswer;
  code: string;
  details?: Record<string, unknown>;
}

const PROVIDER_FAILURES: FailureCase[] = [
  {
    name: "openai 429 with retry-after in seconds",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 429,
      type: "requests",
      code: "rate_limit_exceeded",
      message: "Rate limit reached for gpt-4o-mini.",
      headers: { "retry-after": "2" },
    },
    code: "ERR_LLM_RATE_LIMITED",
    details: { retry_after_ms: 2000, status: 429 },
  },
  {
    name: "openai 429 with retry-after-ms",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 429,
      type: "requests",
      code: "rate_limit_exceeded",
      message: "Rate limit reached.",
      headers: { "retry-after-ms": "750", "retry-after": "1" },
    },
    code: "ERR_LLM_RATE_LIMITED",
    details: { retry_after_ms: 750 },
  },
  {
    name: "anthropic 429",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 429,
      type: "rate_limit_error",
      message: "Number of request tokens has exceeded your rate limit.",
      headers: { "retry-after": "1.5" },
    },
    code: "ERR_LLM_RATE_LIMITED",
    details: { retry_after_ms: 1500, provider_type: "rate_limit_error" },
  },
  {
    name: "openai 503",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 503,
      type: "server_error",
      message: "The engine is currently overloaded, please try again later.",
    },
    code: "ERR_LLM_OVERLOADED",
    details: { status: 503 },
  },
  {
    name: "anthropic 529 overloaded_error",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 529,
      type: "overloaded_error",
      message: "Overloaded",
    },
    code: "ERR_LLM_OVERLOADED",
    details: { status: 529, provider_type: "overloaded_error" },
  },
  {
    name: "openai 500",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 500,
      type: "server_error",
      message: "The server had an error while processing your request.",
    },
    code: "ERR_LLM_OVERLOADED",
  },
  {
    name: "openai 401 that echoes the key",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 401,
      type: "invalid_request_error",
      code: "invalid_api_key",
      message: `Incorrect API key provided: ${OPENAI_KEY}.`,
    },
    code: "ERR_LLM_AUTH_FAILED",
    details: {
      provider_code: "invalid_api_key",
      provider_message:
        "Incorrect API key provided: {{secret:OPENAI_API_KEY}}.",
    },
  },
  {
    name: "anthropic 403",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 403,
      type: "permission_error",
      message: "Your API key does not have permission to use this resource.",
    },
    code: "ERR_LLM_AUTH_FAILED",
  },
  {
    name: "openai 400 context_length_exceeded",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 400,
      type: "invalid_request_error",
      code: "context_length_exceeded",
      param: "messages",
      message:
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130001 tokens.",
    },
    code: "ERR_LLM_CONTEXT_TOO_LONG",
  },
  {
    name: "anthropic 400 prompt is too long",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 400,
      type: "invalid_request_error",
      message: "prompt is too long: 210351 tokens > 200000 maximum",
    },
    code: "ERR_LLM_CONTEXT_TOO_LONG",
  },
  {
    name: "openai 400 other",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 400,
      type: "invalid_request_error",
      param: "temperature",
      message: "Unsupported value: 'temperature' does not support 0.2.",
    },
    code: "ERR_LLM_INVALID_PROMPT",
    details: { status: 400, provider_type: "invalid_request_error" },
  },
  {
    name: "anthropic 400 other",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 400,
      type: "invalid_request_error",
      message: 'messages: roles must alternate between "user" and "assistant"',
    },
    code: "ERR_LLM_INVALID_PROMPT",
  },
  {
    name: "openai 404 model_not_found",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 404,
      type: "invalid_request_error",
      code: "model_not_found",
      param: "model",
      message:
        "The model `gpt-4o-mini` does not exist or you do not have access to it.",
    },
    code: "ERR_LLM_INVALID_MODEL",
    details: { provider_code: "model_not_found" },
  },
  {
    name: "anthropic 404",
    adapter: "anthropic",
    answer: {
      kind: "error",
      status: 404,
      type: "not_found_error",
      message: "model: claude-3-5-haiku-latest",
    },
    code: "ERR_LLM_INVALID_MODEL",
  },
  {
    name: "openai finish_reason content_filter",
    adapter: "openai",
    answer: {
      kind: "reply",
      content: "",
      inputTokens: 5,
      outputTokens: 0,
      finishReason: "content_filter",
    },
    code: "ERR_LLM_CONTENT_BLOCKED",
    details: { finish_reason: "content_filter" },
  },
  {
    name: "openai refusal",
    adapter: "openai",
    answer: {
      kind: "reply",
      content: "",
      inputTokens: 5,
      outputTokens: 4,
      message: { content: null, refusal: "I can't help with that." },
    },
    code: "ERR_LLM_CONTENT_BLOCKED",
    details: { refusal: "I can't help with that." },
  },
  {
    name: "openai 400 content_policy_violation",
    adapter: "openai",
    answer: {
      kind: "error",
      status: 400,
      type: "invalid_request_error",
      code: "content_policy_violation",
      message: "Your request was rejected as a result of our safety system.",
    },
    code: "ERR_LLM_CONTENT_BLOCKED",
  },
  {
    name: "anthropic stop_reason refusal",
    adapter: "anthropic",
    answer: {
      kind: "reply",
      content: "",
      inputTokens: 5,
      outputTokens: 0,
      finishReason: "refusal",
    },
    code: "ERR_LLM_CONTENT_BLOCKED",
  },
  {
    name: "openai 200 that is not JSON",
    adapter: "openai",
    answer: { kind: "raw", status: 200, body: "<html>gateway</html>" },
    code: "ERR_LLM_BAD_RESPONSE",
    details: { status: 200 },
  },
  {
    name: "openai 200 without usage",
    adapter: "openai",
    answer: {
      kind: "raw",
      status: 200,
      body: JSON.stringify({
        choices: [{ message: { content: "hi" }, finish_reason: "stop" }],
      }),
    },
    code: "ERR_LLM_BAD_RESPONSE",
  },
  {
    name: "anthropic 200 with content as a string",
    adapter: "anthropic",
    answer: {
      kind: "raw",
      status: 200,
      body: JSON.stringify({
        content: "hi",
        usage: { input_tokens: 1, output_tokens: 1 },
      }),
    },
    code: "ERR_LLM_BAD_RESPONSE",
  },
  {
    name: "a request held past timeout_ms",
    adapter: "openai",
    answer: { kind: "hold" },
    code: "ERR_LLM_TIMEOUT",
    details: { http_code: "HTTP_TIMEOUT", timeout_ms: 300 },
  },
];

Deno.test("llm_invoke maps every provider failure to its catalog code", async () => {
  await using fake = startFakeLlmServer();
  const node = await openLlmNode(fake);
  try {
    for (const failure of PROVIDER_FAILURES) {
      fake.enqueue(failure.answer);
      const model = failure.adapter === "openai"
        ? "gpt-4o-mini"
        : "claude-3-5-haiku-latest";
      const step = await runStep(node, {
        adapter: failure.adapter,
        base_url: fake.origin,
        model,
        prompt: "Hello?",
        // Short only where the server holds the request: a loaded machine
        // must not turn a quick answer into a timeout.
        timeout_ms: failure.answer.kind === "hold" ? 300 : 10_000,
      });
      assert.equal(step.status, "failed", failure.name);
      assert.equal(
        step.error.code,
        failure.code,
        `${failure.name}: ${step.error.message}`,
      );
      assert.deepEqual(
        pick(step.error.details, ["adapter", "model"]),
        { adapter: failure.adapter, model },
        failure.name,
      );
      if (failure.details !== undefined) {
        assert.deepEqual(
          pick(step.error.details, Object.keys(failure.details)),
          failure.details,
          failure.name,
        );
      }
      const events = await eventsText(node, step.runId);
      assert.ok(!events.includes(OPENAI_KEY), `${failure.name}: key in log`);
    }
    assert.equal(fake.requests.length, PROVIDER_FAILURES.length);
    assert.equal(fake.pending(), 0);
  } finally {
    await node.close();
  }
});

Deno.test("llm_invoke reports unreachable providers, refused targets and bad params without a provider answer", async () => {
  await using fake = startFakeLlmServer();
  const closed = closedPort();
  const node = await openLlmNode(fake, [closed]);
  try {
    const unreachable = await runStep(node, {
      adapter: "openai",
      base_url: `http://127.0.0.1:${closed}`,
      model: "gpt-4o-mini",
      prompt: "Hello?",
    });
    assert.equal(unreachable.error.code, "ERR_LLM_OVERLOADED");
    assert.equal(unreachable.error.details.http_code, "HTTP_CONNECT_FAILED");

    const internal = await runStep(node, {
      adapter: "anthropic",
      base_url: "http://169.254.169.254",
      model: "claude-3-5-haiku-latest",
      prompt: "Hello?",
    });
    assert.equal(internal.error.code, "HTTP_ADDRESS_FORBIDDEN");

    const unpriced = await runStep(node, {
      adapter: "openai",
      base_url: fake.origin,
      model: "gpt-imaginary",
      prompt: "Hello?",
    });
    assert.equal(unpriced.error.code, "ERR_LLM_INVALID_MODEL");

    // The last two break the manifest's input_schema too: a host that checks
    // it first reports VALIDATION_INPUT_SCHEMA instead, and that is right.
    const invalid: [Record<string, unknown>, string[]][] = [
      [{ prompt: "" }, []],
      [{ messages: [{ role: "user", content: " " }] }, []],
      [{ prompt: "hi", base_url: "ftp://x" }, []],
      [{ prompt: "hi", adapter: "bard" }, ["VALIDATION_INPUT_SCHEMA"]],
      [{ prompt: "hi", temperatur: 1 }, ["VALIDATION_INPUT_SCHEMA"]],
    ];
    for (const [params, alternatives] of invalid) {
      const step = await runStep(node, {
        adapter: "openai",
        base_url: fake.origin,
        model: "gpt-4o-mini",
        ...params,
      });
      assert.ok(
        ["ERR_LLM_INVALID_PROMPT", ...alternatives].includes(step.error.code),
        `${JSON.stringify(params)}: ${step.error.code}`,
      );
    }
    assert.equal(fake.requests.length, 0);
  } finally {
    await node.close();
  }
});

Deno.test("llm_invoke content_hash is the sha256 of the content (known vectors and block edges)", async () => {
  const vectors: Record<string, string> = {
    "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    abc: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq:
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu:
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
  };
  // Lengths around the padding boundaries (55/56 bytes, one and two blocks).
  for (const length of [55, 56, 63, 64, 65, 119, 120, 1000]) {
    const text = "x".repeat(length);
    vectors[text] = sha256Hex(text);
  }
  const unicode = "héllo ✓ 𝄞";
  vectors[unicode] = sha256Hex(unicode);
  const contents = Object.keys(vectors);
  await using fake = startFakeLlmServer();
  const node = await openLlmNode(fake);
  try {
    // Each request asks for one content by index, so the answers do not
    // depend on the order requests arrive in.
    fake.enqueue(...contents.map((): ScriptedAnswer => ({
      kind: "reply",
      content: (request: RecordedRequest) =>
        contents[Number(lastMessage(request).replace("content ", ""))]!,
      inputTokens: 1,
      outputTokens: 1,
    })));
    const steps = await runSteps(
      node,
      contents.map((_, index) => ({
        adapter: "openai",
        base_url: fake.origin,
        model: "gpt-4.1-nano",
        prompt: `content ${index}`,
      })),
    );
    steps.forEach((step, index) => {
      const content = contents[index]!;
      assert.equal(step.output?.content, content);
      assert.equal(step.output?.content_hash, vectors[content], content);
    });
  } finally {
    await node.close();
  }
});

function lastMessage(request: RecordedRequest): string {
  const messages = (request.body as { messages: { content: string }[] })
    .messages;
  return messages[messages.length - 1]!.content;
}

function pick(
  object: Record<string, unknown>,
  keys: string[],
): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, object[key]]));
}
