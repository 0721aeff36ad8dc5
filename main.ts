/**
 * `aos`: the AOS command line. This file only dispatches; each command
 * lives with the part of AOS it drives.
 */
import {
  cancelCommand,
  eventsCommand,
  EXIT,
  exportCommand,
  forkCommand,
  resumeCommand,
  runCommand,
  runsCommand,
  ServerUnreachableError,
  signalCommand,
  statusCommand,
  UsageError,
} from "./src/cli/mod.ts";

const USAGE = `usage: aos <command> [options]
  serve    run a node: API, run actors, skills (--port, --data, --store, --node-id, --host, --log-level, --skills-dir, --runs-active-max)
  migrate  apply the store's pending schema migrations (--store postgres://… or --data DIR)
  run      submit a plan: aos run <plan.yaml> [--wait] [--follow] [--json]
  runs     list runs (--status, --skill, --since, --before, --limit, --cursor)
  status   a run's status, steps and outputs: aos status <run-id>
  events   a run's log: aos events <run-id> [--follow]
  signal   send a signal: aos signal <run-id> <name> [PAYLOAD-JSON | --payload-file FILE]
  resume   resume a paused run: aos resume <run-id> [--step STEP] [--params JSON] [--budget-cents N]
  cancel   stop a run: aos cancel <run-id> [--reason TEXT]
  fork     a new run from a step of this one: aos fork <run-id> --from-step STEP [--overrides JSON]
  export   a run's log as JSON lines for aos replay: aos export <run-id> > run.jsonl
  replay   re-execute recorded runs: divergence reports, upgrade dry-runs, certificates (aos replay --help)
  skills   list, install and build skills (aos skills --help)
  tenants  tenants, their API keys and budgets (aos tenants --help)
Commands that talk to a server take --url (AOS_URL, default http://127.0.0.1:8080),
--key (AOS_KEY, sent as Authorization: Bearer) and --json.
Exit codes: 0 ok, 1 failure (refused request, failed run), 2 usage, 3 not found, 4 server unreachable.`;

// The heavier commands are loaded when asked for, so that a process holds
// only its own command's modules: `serve` never loads the skill compiler, the
// PostgreSQL migration tool or the replay reports, nor `aos status` the node.
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: async (args) =>
    (await import("./src/node/serve.ts")).serveCommand(args),
  migrate: async (args) =>
    (await import("./src/store/migrate_command.ts")).migrateCommand(args),
  run: runCommand,
  runs: runsCommand,
  status: statusCommand,
  events: eventsCommand,
  signal: signalCommand,
  resume: resumeCommand,
  cancel: cancelCommand,
  fork: forkCommand,
  export: exportCommand,
  replay: async (args) =>
    (await import("./src/replay/command.ts")).replayCommand(args),
  skills: async (args) =>
    (await import("./src/skills/command.ts")).skillsCommand(args),
  tenants: async (args) =>
    (await import("./src/tenants/command.ts")).tenantsCommand(args),
};

if (import.meta.main) {
  const [name, ...args] = Deno.args;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    const asked = name === undefined || name === "help" || name === "--help";
    (asked ? console.log : console.error)(USAGE);
    Deno.exit(asked ? EXIT.ok : EXIT.usage);
  }
  try {
    Deno.exit(await command(args));
  } catch (error) {
    console.error(
      `aos ${name}: ${error instanceof Error ? error.message : String(error)}`,
    );
    Deno.exit(
      error instanceof UsageError
        ? EXIT.usage
        : error instanceof ServerUnreachableError
        ? EXIT.unreachable
        : EXIT.failure,
    );
  }
}
