/** Replay: re-execute recorded runs, report divergences, certify outputs. */
export {
  type Certificate,
  type CertifiedLog,
  compareCertificate,
  makeCertificate,
  readCertificate,
  type ReplayedLog,
} from "./certificate.ts";
export {
  type Divergence,
  DIVERGENCE_CLASSES,
  type DivergenceClass,
  type HostCallConcerned,
  type ReplayReport,
} from "./divergence.ts";
export {
  candidatePin,
  dryRunLog,
  type DryRunReport,
  type DryRunVerdict,
} from "./dry_run.ts";
export { formatDivergence, formatReport } from "./format.ts";
export { jsonDiff, type JsonDifference } from "./json_diff.ts";
export {
  DirectoryModules,
  type ModuleCatalog,
  registryModules,
  type ReplayModules,
} from "./modules.ts";
export {
  parseLogLines,
  REPLAY_CONCURRENCY,
  replayLog,
  type ReplayOptions,
} from "./replay.ts";
export { countReplay, replayMetricsText } from "./replay_metrics.ts";
export { replaySandbox } from "./replay_sandbox.ts";
