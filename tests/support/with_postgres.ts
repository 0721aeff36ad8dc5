/**
 * Runs a command with `DATABASE_URL` naming a PostgreSQL the tests may
 * create databases on: the caller's when set, otherwise a throwaway local
 * server started here (when the binaries exist) and stopped afterwards.
 * `deno task test` goes through it, so PostgreSQL tests share one server
 * instead of starting one each.
 *
 * Usage: `deno run -A tests/support/with_postgres.ts <command> [args…]`
 *
 * @module
 */
import { startTestPostgres, type TestPostgres } from "./postgres.ts";

async function binariesExist(): Promise<boolean> {
  try {
    const result = await new Deno.Command("pg_config", {
      args: ["--bindir"],
      stdout: "null",
      stderr: "null",
    }).output();
    return result.success;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  const [command, ...args] = Deno.args;
  if (command === undefined) {
    console.error("usage: with_postgres.ts <command> [args…]");
    Deno.exit(2);
  }
  const given = Deno.env.get("DATABASE_URL");
  let server: TestPostgres | undefined;
  const env: Record<string, string> = {};
  if ((given === undefined || given === "") && await binariesExist()) {
    try {
      server = await startTestPostgres({ local: true });
      env.DATABASE_URL = server.url;
    } catch (error) {
      // The PostgreSQL tests will say what is missing; the rest still runs.
      console.error(`with_postgres: no shared test server: ${error}`);
    }
  }
  let code = 1;
  try {
    const child = new Deno.Command(command, { args, env }).spawn();
    const forward = () => child.kill("SIGINT");
    Deno.addSignalListener("SIGINT", forward);
    code = (await child.status).code;
    Deno.removeSignalListener("SIGINT", forward);
  } finally {
    await server?.stop();
  }
  Deno.exit(code);
}
