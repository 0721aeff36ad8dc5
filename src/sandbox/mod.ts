/** The sandbox: skills as Extism plugins with recorded host functions. */
export { HostCallJournal, replayPort } from "./host_calls.ts";
export {
  type CallState,
  hostFunctions,
  RANDOM_BYTES_MAX,
} from "./host_functions.ts";
export { PluginPool, type PluginPoolOptions } from "./plugin_pool.ts";
export {
  classifyCallError,
  type ModuleSource,
  Sandbox,
  type SandboxOptions,
  type SkillModule,
} from "./sandbox.ts";
