/**
 * A real Radicale CalDAV server for tests (Debian package `radicale`; CI
 * installs it with `apt-get install -y radicale`). It listens on 127.0.0.1
 * on a port the OS picks, keeps its collections in a temporary folder and
 * authenticates one user from a plain htpasswd file.
 *
 * @module
 */
import { join } from "node:path";

/** A running Radicale with one user and one calendar collection. */
export interface RadicaleServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The calendar the server was started with, ending in `/`. */
  collectionUrl: string;
  user: string;
  password: string;
  /** `Basic base64(user:password)`, as a CalDAV client sends it. */
  authorization: string;
  /** Stops the server and removes its storage. */
  stop(): Promise<void>;
}

/** Options of `startRadicale`. */
export interface RadicaleOptions {
  user?: string;
  password?: string;
  /** The calendar collection's name under the user's principal. */
  calendar?: string;
  /** Longest wait for the server to listen and answer; 20 s. */
  startTimeoutMs?: number;
}

/** Answers of the startup probe tried before giving up. */
const PROBE_ATTEMPTS_MAX = 20;
/** Log text kept for error messages. */
const LOG_CHARS_MAX = 8_000;

/**
 * The Python that has Radicale: Debian's `/usr/bin/python3` (a `python3`
 * earlier on PATH, e.g. from pyenv, does not see Debian's packages).
 */
function radicalePython(): string {
  try {
    Deno.statSync("/usr/bin/python3");
    return "/usr/bin/python3";
  } catch {
    return "python3";
  }
}

/**
 * Starts Radicale and creates a calendar collection with MKCALENDAR. The
 * server binds port 0 and logs the port it got, so no port is guessed; it
 * is then asked a real authenticated PROPFIND until it answers (bounded).
 *
 * @example
 * ```ts
 * await using radicale = await startRadicale();
 * await fetch(radicale.collectionUrl, {
 *   method: "PROPFIND",
 *   headers: { authorization: radicale.authorization, depth: "0" },
 * });
 * ```
 */
export async function startRadicale(
  options: RadicaleOptions = {},
): Promise<RadicaleServer> {
  const user = options.user ?? "alice";
  const password = options.password ?? "wonderland-0123";
  const calendar = options.calendar ?? "work";
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const dir = await Deno.makeTempDir({ prefix: "aos-radicale-" });
  await Deno.writeTextFile(join(dir, "users"), `${user}:${password}\n`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(radicalePython(), {
      args: [
        "-m",
        "radicale",
        "--config",
        "", // no /etc/radicale/config: everything is on this command line
        "--server-hosts",
        "127.0.0.1:0",
        "--storage-filesystem-folder",
        join(dir, "collections"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        join(dir, "users"),
        "--auth-htpasswd-encryption",
        "plain",
        "--auth-delay",
        "0",
        "--rights-type",
        "owner_only",
        "--logging-level",
        "info",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(
      `cannot start Radicale (install it with apt-get install -y radicale): ${error}`,
      { cause: error },
    );
  }
  const log = new LogTail();
  const listening = log.waitFor(/Listening on '\[?127\.0\.0\.1\]?:(\d+)'/);
  const draining = Promise.all([
    log.pump(child.stdout),
    log.pump(child.stderr),
  ]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await child.status;
    await draining;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const exited = child.status.then((status) => {
    throw new Error(
      `Radicale exited with ${status.code} (is the Debian package ` +
        "radicale installed? apt-get install -y radicale)",
    );
  });
  // Only the startup race awaits it; a normal stop must not reject unseen.
  exited.catch(() => {});
  try {
    const port = await deadline(
      Promise.race([listening.then((match) => Number(match[1])), exited]),
      timeoutMs,
      "Radicale did not listen",
    );
    const url = `http://127.0.0.1:${port}`;
    const authorization = `Basic ${btoa(`${user}:${password}`)}`;
    await deadline(
      probe(`${url}/${user}/`, authorization),
      timeoutMs,
      "Radicale did not answer",
    );
    const collectionUrl = `${url}/${user}/${calendar}/`;
    await createCalendar(collectionUrl, authorization, calendar);
    return {
      url,
      port,
      collectionUrl,
      user,
      password,
      authorization,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${error}\nRadicale's log:\n${log.text}`, {
      cause: error,
    });
  }
}

/**
 * Asks for the user's principal until Radicale answers 207; a refused
 * connection is retried, anything else ends the probe.
 */
async function probe(url: string, authorization: string): Promise<void> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= PROBE_ATTEMPTS_MAX; attempt++) {
    try {
      const response = await fetch(url, {
        method: "PROPFIND",
        headers: { authorization, depth: "0" },
      });
      await response.body?.cancel();
      if (response.status === 207) return;
      throw new Error(`PROPFIND ${url} answered ${response.status}`);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      lastError = error; // connection refused: not accepting yet
    }
  }
  throw new Error(
    `no answer after ${PROBE_ATTEMPTS_MAX} attempts: ${lastError}`,
  );
}

async function createCalendar(
  collectionUrl: string,
  authorization: string,
  name: string,
): Promise<void> {
  const response = await fetch(collectionUrl, {
    method: "MKCALENDAR",
    headers: {
      authorization,
      "content-type": "application/xml; charset=utf-8",
    },
    body: `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>${name}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`,
  });
  const text = await response.text();
  if (response.status !== 201) {
    throw new Error(
      `MKCALENDAR ${collectionUrl} answered ${response.status}: ${text}`,
    );
  }
}

/** Rejects with `message` when `promise` takes longer than `timeoutMs`. */
async function deadline<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${message} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The end of a process's output, read continuously so no pipe fills up. */
class LogTail {
  text = "";
  readonly #watchers: {
    pattern: RegExp;
    resolve: (m: RegExpMatchArray) => void;
  }[] = [];

  waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve) => this.#watchers.push({ pattern, resolve }));
  }

  async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const lines = stream.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      this.text = (this.text + chunk).slice(-LOG_CHARS_MAX);
      for (const watcher of [...this.#watchers]) {
        const match = this.text.match(watcher.pattern);
        if (match === null) continue;
        this.#watchers.splice(this.#watchers.indexOf(watcher), 1);
        watcher.resolve(match);
      }
    }
  }
}
