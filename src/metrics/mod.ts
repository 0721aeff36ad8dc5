/** Prometheus metrics (`nova_*`) and the observations that feed them. */
export {
  Metrics,
  SANDBOX_LIMIT_KIND_NAMES,
  type TenantSpend,
  type WorkerPoolStats,
} from "./metrics.ts";
export {
  observeModelCall,
  observeRun,
  observeStep,
  type RunObservation,
  SANDBOX_LIMIT_KINDS,
  type StepObservation,
} from "./run_metrics.ts";
export { timed } from "./timed.ts";
