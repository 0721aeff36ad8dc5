/** The sandbox: skills as hardened Extism plugins with recorded host functions. */
export { HostCallJournal, replayPort } from "./host_calls.ts";
export {
  type CallState,
  hostFunctions,
  type HostService,
  type HostServiceContext,
  type HostServices,
  RANDOM_BYTES_MAX,
  recordedFetch,
} from "./host_functions.ts";
export {
  type EffectPosition,
  IDEMPOTENCY_KEY_HEADER,
  idempotencyKey,
  withIdempotencyKey,
} from "./idempotency_key.ts";
export {
  answerHttp,
  type HttpAnswer,
  type HttpCallPolicy,
  type HttpGateway,
} from "./http_host.ts";
export {
  GuardedHttpClient,
  type GuardedHttpClientOptions,
  type OutboundRequest,
  type OutboundResponse,
} from "./http_client.ts";
export {
  checkTarget,
  classifyAddress,
  type HttpPolicy,
  liveResolver,
  type LoopbackTarget,
  type Resolver,
} from "./ssrf_guard.ts";
export { inspectModule, type ModuleInfo } from "./module_inspector.ts";
export {
  checkModule,
  HOST_IMPORTS,
  type ModulePolicy,
} from "./module_policy.ts";
export { hardenModule } from "./module_rewrite.ts";
export {
  checkOutputLimits,
  DEFAULT_OUTPUT_LIMITS,
  jsonDepth,
  type OutputLimits,
} from "./output_limits.ts";
export { PluginPool, type PluginPoolOptions } from "./plugin_pool.ts";
export { classifyCallError } from "./call_outcome.ts";
export { PROFILE_DIR_ENV as PLUGIN_CPU_PROFILE_DIR_ENV } from "./_worker_profiler.ts";
export {
  DEFAULT_SANDBOX_LIMITS,
  type ModuleSource,
  Sandbox,
  type SandboxLimits,
  type SandboxOptions,
  type SkillModule,
} from "./sandbox.ts";
