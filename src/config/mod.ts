/** Configuration from flags and environment. */
export {
  DEFAULT_CONFIG,
  loadNodeConfig,
  type NodeConfig,
  type RunLogLimits,
} from "./config.ts";
