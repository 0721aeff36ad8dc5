/**
 * The seam between AOS and the outside world. Only code holding these reads
 * time, draws randomness or writes logs; each has a live and a simulated side.
 */
export {
  type Clock,
  liveClock,
  SimulatedClock,
  TIMEOUT_MAX_MS,
  timeoutClock,
  type TimerHost,
} from "./clock.ts";
export {
  jsonLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  MemoryLogger,
  silentLogger,
} from "./logger.ts";
export {
  liveRandom,
  newRunId,
  randomHex,
  type RandomSource,
  SeededRandom,
} from "./random.ts";
export {
  childTraceparent,
  formatTraceparent,
  parseTraceparent,
  runTraceId,
  type TraceContext,
} from "./trace_context.ts";
