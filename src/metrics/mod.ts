/** Prometheus metrics (`nova_*`). */
export { Metrics } from "./metrics.ts";
