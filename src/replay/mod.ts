/** Replay: re-execute recorded runs and certify their outputs byte for byte. */
export { formatReport } from "./format.ts";
export { DirectoryModules } from "./modules.ts";
export {
  type Divergence,
  type DivergenceReason,
  parseLogLines,
  replayLog,
  type ReplayReport,
} from "./replay.ts";
