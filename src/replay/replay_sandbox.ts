import { liveClock, liveRandom } from "../deps/mod.ts";
import { type ModuleSource, Sandbox } from "../sandbox/mod.ts";

/**
 * A sandbox for replay with no way out: no HTTP gateway and no host
 * services, so a call the log does not answer can reach nothing; and replay
 * hands it a host-call port that never persists. Reading the clock or
 * random bytes is all a live answer could do, and it is never kept.
 */
export function replaySandbox(modules: ModuleSource): Sandbox {
  // Replay is a batch that keeps its workers busy: every worker of a pool
  // starts as soon as one is needed, not after a node's growth wait.
  return new Sandbox({
    modules,
    clock: liveClock,
    random: liveRandom,
    poolGrowAfterMs: 0,
  });
}
