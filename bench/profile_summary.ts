/**
 * Summarises a V8 CPU profile (`deno --cpu-prof`, or `deno task bench
 * --cpu-prof DIR`): the frames with the most self time and the most
 * inclusive time, as shares of the sampled time.
 *
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile [--top 30]
 */
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self and inclusive time per frame (function, file, line), in µs. */
export interface ProfileSummary {
  totalUs: number;
  self: [string, number][];
  inclusive: [string, number][];
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(
    /node_modules\/\.deno\/[^/]+\/node_modules\//,
    "npm:",
  ).replace(
    /^file:\/\/.*?\/(node_modules|src|actors|bench)\//,
    "$1/",
  );
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
}

/** Folds the samples of `profile` into per-frame self and inclusive time. */
export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const sampledUs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    sampledUs.set(
      id,
      (sampledUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0),
    );
  });
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of sampledUs) {
    totalUs += us;
    const name = frameName(byId.get(id)!);
    self.set(name, (self.get(name) ?? 0) + us);
    // A recursive frame counts once per sample.
    const seen = new Set<string>();
    for (
      let at: number | undefined = id;
      at !== undefined;
      at = parentOf.get(at)
    ) {
      const frame = frameName(byId.get(at)!);
      if (seen.has(frame)) continue;
      seen.add(frame);
      inclusive.set(frame, (inclusive.get(frame) ?? 0) + us);
    }
  }
  const sorted = (map: Map<string, number>) =>
    [...map].sort((a, b) => b[1] - a[1]);
  return { totalUs, self: sorted(self), inclusive: sorted(inclusive) };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { top: { type: "string", default: "30" } },
    allowPositionals: true,
  });
  const top = Number(values.top);
  for (const file of positionals) {
    const summary = summarize(JSON.parse(await Deno.readTextFile(file)));
    const share = (us: number) =>
      `${(100 * us / summary.totalUs).toFixed(1).padStart(5)}%`;
    console.log(`${file}: ${(summary.totalUs / 1000).toFixed(0)} ms sampled`);
    console.log("self time:");
    for (const [frame, us] of summary.self.slice(0, top)) {
      console.log(`  ${share(us)}  ${frame}`);
    }
    console.log("inclusive time:");
    for (const [frame, us] of summary.inclusive.slice(0, top)) {
      console.log(`  ${share(us)}  ${frame}`);
    }
  }
}
