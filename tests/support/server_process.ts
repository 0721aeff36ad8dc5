import { PROJECT_ROOT } from "../../src/skills/build.ts";

interface Watcher {
  predicate: (line: LogLine) => boolean;
  resolve: (line: LogLine) => void;
}

/** One JSON log line of a server process. */
export type LogLine = Record<string, unknown> & { event: string };

/**
 * A real `aos serve` child process. Its stdout is read continuously (a full
 * pipe would block the server), parsed as JSON log lines, and kept, so a
 * test can wait for a line that says something happened instead of sleeping.
 */
export class ServerProcess {
  readonly url: string;
  readonly #child: Deno.ChildProcess;
  readonly #lines: LogLine[];
  readonly #watchers: Watcher[];

  private constructor(
    url: string,
    child: Deno.ChildProcess,
    lines: LogLine[],
    watchers: Watcher[],
  ) {
    this.url = url;
    this.#child = child;
    this.#lines = lines;
    this.#watchers = watchers;
  }

  /** Starts `aos serve` on a free loopback port and waits until it listens. */
  static async start(
    options: { dataDir: string; args?: string[]; env?: Record<string, string> },
  ): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "serve",
        "--port",
        "0",
        "--data",
        options.dataDir,
        // The embedded store unless the test names one: a DATABASE_URL in
        // the test's environment (a shared test server) is not for nodes.
        ...(options.args?.includes("--store") ? [] : ["--store", "sqlite"]),
        ...(options.args ?? []),
      ],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      ...(options.env === undefined ? {} : { env: options.env }),
    }).spawn();
    const lines: LogLine[] = [];
    const watchers: Watcher[] = [];
    const onLine = (line: LogLine) => {
      lines.push(line);
      for (
        const watcher of watchers.filter((candidate) =>
          candidate.predicate(line)
        )
      ) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(line);
      }
    };
    pump(child.stdout, onLine);
    pump(child.stderr, onLine);
    const listening = await Promise.race([
      new Promise<LogLine>((resolve) =>
        watchers.push({
          predicate: (line) => line.event === "listening",
          resolve,
        })
      ),
      child.status.then((status) => {
        throw new Error(
          `aos serve exited with ${status.code} before listening: ${
            JSON.stringify(lines.slice(-5))
          }`,
        );
      }),
    ]);
    return new ServerProcess(String(listening.url), child, lines, watchers);
  }

  /** Resolves with the first line (already seen or future) matching `predicate`. */
  waitFor(predicate: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.#lines.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) =>
      this.#watchers.push({ predicate, resolve })
    );
  }

  /** Resolves once `count` lines matching `predicate` have been seen. */
  async waitForCount(
    predicate: (line: LogLine) => boolean,
    count: number,
  ): Promise<void> {
    while (this.#lines.filter(predicate).length < count) {
      await new Promise<LogLine>((resolve) =>
        this.#watchers.push({ predicate, resolve })
      );
    }
  }

  /** Every line so far. */
  get lines(): readonly LogLine[] {
    return this.#lines;
  }

  /** Sends `signal` without waiting (SIGSTOP and SIGCONT pause and resume it). */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
    return await this.#child.status;
  }

  /** Sends a JSON request to the server. */
  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const response = await fetch(`${this.url}${path}`, init);
    return { status: response.status, body: await response.json() };
  }
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: LogLine) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        onLine(JSON.parse(text));
      } catch {
        onLine({ event: "raw", text });
      }
    }
  }
}
