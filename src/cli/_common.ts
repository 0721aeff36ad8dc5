import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import {
  type ApiAnswer,
  callApi,
  type ClientOptions,
  clientOptions,
  describeError,
} from "./client.ts";
import { EXIT } from "./exit.ts";

/** Flags every command that talks to a server takes. */
export const SERVER_FLAGS = {
  url: { type: "string" },
  key: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const satisfies ParseArgsOptionsConfig;

/** A command line that could not be parsed. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What `parseCommand` returns for the command's own `options`. */
export type ParsedCommand<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: typeof SERVER_FLAGS & T;
    allowPositionals: true;
    strict: true;
  }>
>;

/**
 * Parses a command line with the server flags plus `options`; a parse error
 * becomes a `UsageError` (exit 2).
 */
export function parseCommand<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
): ParsedCommand<T> {
  try {
    return parseArgs({
      args,
      options: { ...SERVER_FLAGS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(
      error instanceof Error ? error.message : String(error),
    );
  }
}

/** Client options from `--url`/`--key` and the environment. */
export function clientFrom(
  values: { url?: string | undefined; key?: string | undefined },
): ClientOptions {
  return clientOptions(values, Deno.env.toObject());
}

/**
 * The exit code for an answer that is not what the command wanted: 3 when
 * the thing asked about does not exist, 1 otherwise. The error is printed.
 */
export function refusal(answer: ApiAnswer): number {
  console.error(describeError(answer));
  return answer.status === 404 ? EXIT.notFound : EXIT.failure;
}

/** `--help`: prints the command's usage; exit 0. */
export function help(usage: string): number {
  console.log(usage);
  return EXIT.ok;
}

/** GET of a JSON resource. */
export function getJson(
  client: ClientOptions,
  path: string,
): Promise<ApiAnswer> {
  return callApi(client, { method: "GET", path });
}

/** The run id positional of `aos status|events|cancel|export`. */
export function runIdArgument(positionals: string[], usage: string): string {
  const [runId, ...rest] = positionals;
  if (runId === undefined || rest.length > 0 || runId.trim() === "") {
    throw new UsageError(usage);
  }
  return runId;
}

/** `/v1/runs/<id>` with the id escaped. */
export function runPath(runId: string, suffix = ""): string {
  return `/v1/runs/${encodeURIComponent(runId)}${suffix}`;
}
