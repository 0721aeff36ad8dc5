/**
 * A scripted model provider on 127.0.0.1 for tests: OpenAI's
 * `POST /v1/chat/completions` and Anthropic's `POST /v1/messages`, each
 * answering in that provider's real format. The test queues answers in the
 * order requests will arrive; every request is recorded with its headers
 * (so a test can see the key the host put in) and its parsed body.
 */

/** A successful completion, written in the format of the path it answers. */
export interface ScriptedReply {
  kind: "reply";
  /** The answer's text, or a function of the request (for answers that must not depend on arrival order). */
  content: string | ((request: RecordedRequest) => string);
  inputTokens: number;
  outputTokens: number;
  /** OpenAI's finish_reason or Anthropic's stop_reason; "stop"/"end_turn" by default. */
  finishReason?: string;
  /** Extra members merged into choices[0].message (OpenAI only), e.g. refusal. */
  message?: Record<string, unknown>;
}

/** An error status with a body in the provider's error format. */
export interface ScriptedError {
  kind: "error";
  status: number;
  /** OpenAI error.type, or Anthropic error.type (e.g. "overloaded_error"). */
  type: string;
  message: string;
  /** OpenAI only: error.code (e.g. "context_length_exceeded"). */
  code?: string | null;
  /** OpenAI only: error.param. */
  param?: string | null;
  headers?: Record<string, string>;
}

/** Any status and body, sent as given. */
export interface ScriptedRaw {
  kind: "raw";
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** Never answers: the request is held until the server closes. */
export interface ScriptedHold {
  kind: "hold";
}

/** One scripted answer. */
export type ScriptedAnswer =
  | ScriptedReply
  | ScriptedError
  | ScriptedRaw
  | ScriptedHold;

/** Which API a request was sent to, from its path. */
export type Provider = "openai" | "anthropic";

/** A request as the server received it. */
export interface RecordedRequest {
  provider: Provider | "unknown";
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** The parsed JSON body, or the text when it is not JSON. */
  body: unknown;
}

/** A running fake provider. */
export interface FakeLlmServer extends AsyncDisposable {
  port: number;
  /** `http://127.0.0.1:PORT`: the adapters' `base_url`. */
  origin: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Appends answers to the queue; each request takes the first one. */
  enqueue(...answers: ScriptedAnswer[]): void;
  /** Answers still queued (a test that expects none left asserts 0). */
  pending(): number;
  /** Releases held requests, stops accepting and waits for the rest. */
  close(): Promise<void>;
}

const PATHS: Record<string, Provider> = {
  "/v1/chat/completions": "openai",
  "/v1/messages": "anthropic",
};

/**
 * Starts the fake provider. A request arriving with an empty queue gets a
 * 500 whose message says so, which fails the test that forgot to script it.
 *
 * @example
 * ```ts
 * await using fake = startFakeLlmServer();
 * fake.enqueue({ kind: "reply", content: "hi", inputTokens: 3, outputTokens: 1 });
 * ```
 */
export function startFakeLlmServer(): FakeLlmServer {
  const queue: ScriptedAnswer[] = [];
  const requests: RecordedRequest[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let sequence = 0;

  const handle = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const provider = PATHS[path] ?? "unknown";
    const text = await request.text();
    const recorded: RecordedRequest = {
      provider,
      method: request.method,
      path,
      headers: Object.fromEntries(request.headers.entries()),
      body: parseOrText(text),
    };
    requests.push(recorded);
    const answer = queue.shift();
    if (provider === "unknown" || answer === undefined) {
      return Response.json(
        openAiError("server_error", `fake: nothing scripted for ${path}`),
        { status: 500 },
      );
    }
    sequence++;
    switch (answer.kind) {
      case "hold":
        // The client gives up (its timeout) and hangs up; the handler stays
        // until close() releases it, so nothing is left running after a test.
        await released;
        return new Response(null, { status: 499 });
      case "raw":
        return new Response(answer.body, {
          status: answer.status,
          headers: answer.headers ?? {},
        });
      case "error":
        return Response.json(errorBody(provider, answer), {
          status: answer.status,
          headers: answer.headers ?? {},
        });
      case "reply": {
        const content = typeof answer.content === "string"
          ? answer.content
          : answer.content(recorded);
        const model = (recorded.body as { model?: unknown } | null)?.model;
        return Response.json(
          replyBody(provider, { ...answer, content }, String(model), sequence),
        );
      }
    }
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handle,
  );
  const close = async () => {
    release();
    await server.shutdown();
  };
  return {
    port: server.addr.port,
    origin: `http://127.0.0.1:${server.addr.port}`,
    requests,
    enqueue: (...answers) => void queue.push(...answers),
    pending: () => queue.length,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function openAiError(
  type: string,
  message: string,
  code: string | null = null,
  param: string | null = null,
): Record<string, unknown> {
  return { error: { message, type, param, code } };
}

function errorBody(
  provider: Provider,
  answer: ScriptedError,
): Record<string, unknown> {
  if (provider === "anthropic") {
    return {
      type: "error",
      error: { type: answer.type, message: answer.message },
      request_id: "req_fake",
    };
  }
  return openAiError(
    answer.type,
    answer.message,
    answer.code ?? null,
    answer.param ?? null,
  );
}

function replyBody(
  provider: Provider,
  reply: ScriptedReply & { content: string },
  model: string,
  sequence: number,
): Record<string, unknown> {
  if (provider === "anthropic") {
    return {
      id: `msg_fake_${sequence}`,
      type: "message",
      role: "assistant",
      model,
      content: [{ type: "text", text: reply.content }],
      stop_reason: reply.finishReason ?? "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: reply.inputTokens,
        output_tokens: reply.outputTokens,
      },
    };
  }
  return {
    id: `chatcmpl-fake-${sequence}`,
    object: "chat.completion",
    created: 1_700_000_000,
    model,
    choices: [{
      index: 0,
      message: {
        role: "assistant",
        content: reply.content,
        refusal: null,
        ...reply.message,
      },
      logprobs: null,
      finish_reason: reply.finishReason ?? "stop",
    }],
    usage: {
      prompt_tokens: reply.inputTokens,
      completion_tokens: reply.outputTokens,
      total_tokens: reply.inputTokens + reply.outputTokens,
    },
    system_fingerprint: "fp_fake",
  };
}
