// CPU profiles of a plugin's worker thread. `deno run --cpu-prof` profiles
// the main thread and web workers, not `node:worker_threads` workers, and a
// plugin worker's thread is where every guest runs. When the process has
// AOS_PLUGIN_CPU_PROF_DIR, each plugin worker profiles itself through
// `node:inspector` and writes what it sampled as
// `<dir>/plugin-<thread>-<n>.cpuprofile` once its calls have run for
// AOS_PLUGIN_CPU_PROF_EVERY_MS (default 5000), before it answers the call
// that passed that mark: a worker is terminated, never told it is ending,
// so it writes as it goes. For profiling runs (`deno task bench --cpu-prof`)
// only: writing a profile holds up the call it follows.

/** Folder of the profiles; unset, workers are not profiled. */
export const PROFILE_DIR_ENV = "AOS_PLUGIN_CPU_PROF_DIR";
/** How long a worker samples before it writes a profile, in ms. */
export const PROFILE_EVERY_ENV = "AOS_PLUGIN_CPU_PROF_EVERY_MS";

const EVERY_MS_DEFAULT = 5_000;
// The sampling interval of `deno run --cpu-prof`.
const SAMPLING_INTERVAL_US = 1_000;

/** A worker's profiler: call `beforeAnswer` before each answer is handed back. */
export interface WorkerProfiler {
  beforeAnswer(): Promise<void>;
}

/** Starts profiling this thread when the environment asks for it. */
export async function startWorkerProfiler(
  thread: number | undefined,
): Promise<WorkerProfiler | undefined> {
  let dir: string | undefined;
  let everyText: string | undefined;
  try {
    dir = Deno.env.get(PROFILE_DIR_ENV);
    everyText = Deno.env.get(PROFILE_EVERY_ENV);
  } catch {
    return undefined; // no permission to read the environment
  }
  if (dir === undefined || dir === "") return undefined;
  const everyMs = everyText === undefined || !/^\d+$/.test(everyText)
    ? EVERY_MS_DEFAULT
    : Number(everyText);
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) =>
    new Promise<{ profile?: unknown }>((resolve, reject) =>
      session.post(
        method,
        params,
        (error: Error | null, result?: object) =>
          error === null ? resolve(result ?? {}) : reject(error),
      )
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", {
    interval: SAMPLING_INTERVAL_US,
  });
  await post("Profiler.start");
  let startedMs = performance.now();
  let written = 0;
  const name = `plugin-${thread ?? "unknown"}`;
  return {
    async beforeAnswer() {
      if (performance.now() - startedMs < everyMs) return;
      const { profile } = await post("Profiler.stop");
      written++;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/${name}-${written}.cpuprofile`,
        JSON.stringify(profile),
      );
      await post("Profiler.start");
      startedMs = performance.now();
    },
  };
}
