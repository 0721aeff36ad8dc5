/** Shared by the `aos` commands that talk to a server, and the run commands. */
export {
  type ApiAnswer,
  type ApiRequest,
  callApi,
  type ClientOptions,
  clientOptions,
  describeError,
  fetchApi,
  ServerUnreachableError,
} from "./client.ts";
export { formatTable } from "./table.ts";
export { EXIT } from "./exit.ts";
export { UsageError } from "./_common.ts";
export {
  eventsCommand,
  exportCommand,
  runsCommand,
  statusCommand,
} from "./inspect_commands.ts";
export {
  cancelCommand,
  forkCommand,
  resumeCommand,
  signalCommand,
} from "./control_commands.ts";
export { runCommand } from "./run_command.ts";
