/** Configuration from flags and environment. */
export { DEFAULT_CONFIG, loadNodeConfig, type NodeConfig } from "./config.ts";
