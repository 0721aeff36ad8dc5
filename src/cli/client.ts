/** How the `aos` commands that talk to a server find it and authenticate. */
export interface ClientOptions {
  /** Base URL of the server (`--url`, `AOS_URL`; default http://127.0.0.1:8080). */
  url: string;
  /** API key (`--key`, `AOS_KEY`, then `AOS_ADMIN_KEY`). */
  key: string | undefined;
}

/** Reads client options from flags and environment. */
export function clientOptions(
  flags: { url?: string | undefined; key?: string | undefined },
  env: Record<string, string | undefined>,
): ClientOptions {
  return {
    url: (flags.url ?? env.AOS_URL ?? "http://127.0.0.1:8080").replace(
      /\/+$/,
      "",
    ),
    key: flags.key ?? env.AOS_KEY ?? env.AOS_ADMIN_KEY,
  };
}

/** A server's answer: status and JSON body. */
export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Raised when the server cannot be reached at all. */
export class ServerUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `cannot reach the AOS server at ${url}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "ServerUnreachableError";
  }
}

/** One request to the AOS API. */
export interface ApiRequest {
  method: string;
  path: string;
  json?: unknown;
  form?: FormData;
  /** A body sent as is, with its content type. */
  text?: { body: string; contentType: string };
  headers?: Record<string, string>;
}

/** Sends a request and returns the raw response (for streams). */
export async function fetchApi(
  options: ClientOptions,
  request: ApiRequest,
): Promise<Response> {
  const headers: Record<string, string> = { ...request.headers };
  if (options.key !== undefined) {
    headers.authorization = `Bearer ${options.key}`;
  }
  let body: BodyInit | undefined;
  if (request.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(request.json);
  } else if (request.text !== undefined) {
    headers["content-type"] = request.text.contentType;
    body = request.text.body;
  } else if (request.form !== undefined) {
    body = request.form;
  }
  try {
    return await fetch(`${options.url}${request.path}`, {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
  } catch (error) {
    throw new ServerUnreachableError(options.url, error);
  }
}

/** Sends one request to the AOS API. */
export async function callApi(
  options: ClientOptions,
  request: ApiRequest,
): Promise<ApiAnswer & { headers: Headers }> {
  const response = await fetchApi(options, request);
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** The `{ error: { code, message } }` of an answer, as one line for a terminal. */
export function describeError(answer: ApiAnswer): string {
  const error = answer.body.error as {
    code?: string;
    message?: string;
    details?: unknown;
  } | undefined;
  if (error === undefined) return `HTTP ${answer.status}`;
  const details =
    error.details === undefined || JSON.stringify(error.details) === "{}"
      ? ""
      : ` ${JSON.stringify(error.details)}`;
  return `${error.code}: ${error.message}${details}`;
}
