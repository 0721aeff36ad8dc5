/** The benchmarks' HTTP client of the AOS API. */

/** `failed_runs` and a note naming the first failure, for a result. */
export function failuresOf(
  client: ApiClient,
): { count: number; note: string } {
  const first = client.failedRuns[0];
  return {
    count: client.failedRuns.length,
    note: first === undefined
      ? ""
      : `; ${client.failedRuns.length} runs did not succeed, first ${first.run_id} ${first.status} ${first.code}`,
  };
}

/** Options of `ApiClient`. */
export interface ApiClientOptions {
  /** An API key, sent as `Authorization: Bearer <key>`. */
  key?: string | undefined;
}

/** A JSON response. */
export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Sends JSON requests to one server. Headers are built once; `fetch` keeps
 * connections alive, so the client adds little work per request.
 */
export class ApiClient {
  readonly url: string;
  /**
   * Runs that ended other than `succeeded`, with their error code: counted,
   * not thrown, so that one bad run shows in the figures instead of ending
   * the whole benchmark.
   */
  readonly failedRuns: { run_id: string; status: string; code: string }[] = [];
  readonly #jsonHeaders: Headers;
  readonly #headers: Headers;

  constructor(url: string, options: ApiClientOptions = {}) {
    this.url = url;
    const auth: Record<string, string> = options.key === undefined
      ? {}
      : { authorization: `Bearer ${options.key}` };
    this.#headers = new Headers(auth);
    this.#jsonHeaders = new Headers({
      ...auth,
      "content-type": "application/json",
    });
  }

  async get(path: string): Promise<ApiResponse> {
    const response = await fetch(this.url + path, { headers: this.#headers });
    return { status: response.status, body: await response.json() };
  }

  async post(path: string, body: unknown): Promise<ApiResponse> {
    const response = await fetch(this.url + path, {
      method: "POST",
      headers: this.#jsonHeaders,
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  /**
   * Submits a run and waits until it ends; returns its id. A run that does
   * not succeed is added to `failedRuns`; an HTTP error throws.
   */
  async runToEnd(plan: string): Promise<string> {
    const submitted = await this.post("/v1/runs", plan);
    if (submitted.status !== 202) throw submitRefused(submitted);
    return await this.#waitForEnd(String(submitted.body.run_id));
  }

  /**
   * As `runToEnd`, in one request when the run ends within 30 s: the
   * submission waits for the end (`POST /v1/runs?wait_ms`).
   */
  async submitAndWait(plan: string): Promise<string> {
    const submitted = await this.post("/v1/runs?wait_ms=30000", plan);
    if (submitted.status === 202) {
      return await this.#waitForEnd(String(submitted.body.run_id));
    }
    if (submitted.status !== 200) throw submitRefused(submitted);
    const runId = String(submitted.body.run_id);
    this.#ended(runId, submitted.body);
    return runId;
  }

  async #waitForEnd(runId: string): Promise<string> {
    for (;;) {
      const view = await this.get(`/v1/runs/${runId}?wait_ms=30000`);
      if (view.status !== 200) {
        throw new Error(`status answered ${view.status}`);
      }
      if (view.body.status !== "running") {
        this.#ended(runId, view.body);
        return runId;
      }
    }
  }

  /** Counts a run that ended other than `succeeded` in `failedRuns`. */
  #ended(runId: string, view: Record<string, unknown>): void {
    if (view.status === "succeeded") return;
    this.failedRuns.push({
      run_id: runId,
      status: String(view.status),
      code: String(view.code),
    });
  }
}

function submitRefused(submitted: ApiResponse): Error {
  return new Error(
    `submit answered ${submitted.status}: ${JSON.stringify(submitted.body)}`,
  );
}
