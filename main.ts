/**
 * `aos`: the AOS command line. This file only dispatches; each command
 * lives with the part of AOS it drives.
 */
import { EXIT, ServerUnreachableError } from "./src/cli/mod.ts";
import { serveCommand } from "./src/node/serve.ts";
import { replayCommand } from "./src/replay/command.ts";
import { skillsCommand } from "./src/skills/command.ts";
import { migrateCommand } from "./src/store/migrate_command.ts";

const USAGE = `usage: aos <command> [options]
  serve    run a node: API, run actors, skills (--port, --data, --store, --node-id, --host, --log-level, --skills-dir)
  migrate  apply the store's pending schema migrations (--store postgres://… or --data DIR)
  replay   re-execute recorded runs: divergence reports, upgrade dry-runs, certificates (aos replay --help)
  skills   list, install and build skills (aos skills --help)`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  migrate: migrateCommand,
  replay: replayCommand,
  skills: skillsCommand,
};

if (import.meta.main) {
  const [name, ...args] = Deno.args;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    console.error(USAGE);
    Deno.exit(
      name === undefined || name === "help" || name === "--help"
        ? EXIT.ok
        : EXIT.usage,
    );
  }
  try {
    Deno.exit(await command(args));
  } catch (error) {
    console.error(
      `aos ${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(
      error instanceof ServerUnreachableError ? EXIT.unreachable : EXIT.failure,
    );
  }
}
