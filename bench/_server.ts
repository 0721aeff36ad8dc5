/**
 * A real `aos serve` child process for the benchmarks, with what they
 * measure on it: resident memory and CPU time from `/proc`.
 */
import { PROJECT_ROOT } from "../src/skills/build.ts";

/** How to start the server. */
export interface BenchServerOptions {
  dataDir: string;
  /** Extra `aos serve` flags. */
  args?: string[];
  /** Extra environment (merged over this process's and the start task's). */
  env?: Record<string, string>;
  /** Flags for `deno run` itself, e.g. `--cpu-prof`, after the start task's. */
  denoFlags?: string[];
}

/** How the `start` task in `deno.json` runs the server. */
export interface StartCommand {
  /** Environment the task sets before `deno` (`MALLOC_ARENA_MAX=2 deno …`). */
  env: Record<string, string>;
  /** Flags of `deno run` (the V8 heap settings, say), without `-A`. */
  flags: string[];
}

/**
 * The environment assignments and `deno run` flags of the `start` task in
 * `deno.json`, so a benchmark measures the server as `deno task start` runs
 * it rather than a differently tuned one.
 */
export function startCommand(tasks: Record<string, string>): StartCommand {
  const start = tasks.start;
  const words = start?.trim().split(/\s+/) ?? [];
  const env: Record<string, string> = {};
  let first = 0;
  for (; first < words.length; first++) {
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(words[first]!);
    if (assignment === null) break;
    env[assignment[1]!] = assignment[2]!;
  }
  const main = words.indexOf("main.ts", first);
  if (words[first] !== "deno" || words[first + 1] !== "run" || main < 0) {
    throw new Error(
      `deno.json's start task is not "[VAR=value …] deno run [flags] main.ts serve": ${start}`,
    );
  }
  const flags = words.slice(first + 2, main).filter((flag) => flag !== "-A");
  return { env, flags };
}

function projectStartCommand(): StartCommand {
  const config = JSON.parse(
    Deno.readTextFileSync(`${PROJECT_ROOT}/deno.json`),
  ) as { tasks: Record<string, string> };
  return startCommand(config.tasks);
}

const CLOCK_TICKS_PER_S = 100;

/** A running `aos serve`; stop it with `stop()`. */
export class BenchServer {
  readonly url: string;
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[];

  private constructor(url: string, child: Deno.ChildProcess, lines: string[]) {
    this.url = url;
    this.pid = child.pid;
    this.#child = child;
    this.#lines = lines;
  }

  /** Starts the server on a free loopback port and waits until it listens. */
  static async start(options: BenchServerOptions): Promise<BenchServer> {
    const start = projectStartCommand();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...start.flags,
        ...(options.denoFlags ?? []),
        "main.ts",
        "serve",
        "--port",
        "0",
        "--data",
        options.dataDir,
        ...(options.args ?? []),
      ],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      clearEnv: true,
      env: serverEnv({ ...start.env, ...options.env }),
    }).spawn();
    const lines: string[] = [];
    let listening!: (url: string) => void;
    const url = new Promise<string>((resolve) => listening = resolve);
    const onLine = (text: string) => {
      // Keep only the last lines: under load the server logs every run.
      if (lines.length >= 50) lines.shift();
      lines.push(text);
      if (text.includes('"listening"')) {
        listening(String(JSON.parse(text).url));
      }
    };
    drain(child.stdout, onLine);
    drain(child.stderr, onLine);
    const started = await Promise.race([
      url,
      child.status.then((status) => {
        throw new Error(
          `aos serve exited with ${status.code}: ${lines.slice(-5).join("\n")}`,
        );
      }),
    ]);
    return new BenchServer(started, child, lines);
  }

  /** Resident memory of the server now, in bytes. */
  rssBytes(): number {
    const status = Deno.readTextFileSync(`/proc/${this.pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  }

  /** CPU time (user + system) the server has used so far, in ms. */
  cpuMs(): number {
    const stat = Deno.readTextFileSync(`/proc/${this.pid}/stat`);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks * 1000 / CLOCK_TICKS_PER_S;
  }

  /** The last lines the server wrote. */
  get lastLines(): readonly string[] {
    return this.#lines;
  }

  /** Asks the server to stop (SIGTERM) and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    return await this.#child.status;
  }
}

/**
 * This process's environment without a store choice, plus `extra`: a server
 * uses PostgreSQL only when its scenario says so.
 */
function serverEnv(extra: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DATABASE_URL;
  return { ...env, ...extra };
}

async function drain(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  }
}
