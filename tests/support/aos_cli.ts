import { PROJECT_ROOT } from "../../src/skills/build.ts";

/** What an `aos` child process did. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function command(
  args: string[],
  env: Record<string, string>,
  stdin: "null" | "piped" = "null",
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `aos <args>` to its end. */
export async function aos(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> {
  let output: Deno.CommandOutput;
  if (input === undefined) {
    output = await command(args, env).output();
  } else {
    const child = command(args, env, "piped").spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
    output = await child.output();
  }
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}

/**
 * A running `aos <args>` whose output lines can be waited for, for commands
 * that stay (`--follow`, `--wait`).
 */
export class CliProcess {
  readonly #child: Deno.ChildProcess;
  readonly #lines: { stdout: string[]; stderr: string[] } = {
    stdout: [],
    stderr: [],
  };
  readonly #waiters: (() => void)[] = [];
  readonly #pumps: Promise<void>[];
  #ended = false;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.#child = command(args, env).spawn();
    this.#pumps = [
      this.#pump(this.#child.stdout, this.#lines.stdout),
      this.#pump(this.#child.stderr, this.#lines.stderr),
    ];
    Promise.all(this.#pumps).then(() => {
      this.#ended = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: string[]) {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        into.push(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        for (const wake of this.#waiters.splice(0)) wake();
      }
    }
    if (buffer !== "") into.push(buffer);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves with the first line of `stream` matching `pattern` (seen or future). */
  async waitForLine(
    stream: "stdout" | "stderr",
    pattern: RegExp,
  ): Promise<string> {
    for (;;) {
      const line = this.#lines[stream].find((candidate) =>
        pattern.test(candidate)
      );
      if (line !== undefined) return line;
      if (this.#ended) {
        throw new Error(
          `aos ended without a ${stream} line matching ${pattern}: ${
            JSON.stringify(this.#lines)
          }`,
        );
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Waits for the process to end. */
  async finished(): Promise<CliResult> {
    const status = await this.#child.status;
    await Promise.all(this.#pumps);
    return {
      code: status.code,
      stdout: this.#lines.stdout.join("\n"),
      stderr: this.#lines.stderr.join("\n"),
    };
  }

  /** Stops the process (when a test fails half-way). */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await this.finished();
  }
}
