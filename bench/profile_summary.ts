/**
 * Summarises a V8 CPU profile (`deno --cpu-prof`, or `deno task bench
 * --cpu-prof DIR`): the frames with the most self time and the most
 * inclusive time, as shares of the sampled time. `--tree PCT` prints the
 * call tree instead, every path of at least PCT% of the time, indented (a
 * flame graph in text); `--folded` prints the samples as folded stacks
 * (`frame;frame;… microseconds` a line), which flame graph tools draw;
 * `--svg` draws the flame graph itself (`_flame_graph.ts`), paths of at
 * least `--min` percent (default 0.1).
 *
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile [--top 30]
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile --tree 1.5
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile --folded > out.folded
 *   deno run -A bench/profile_summary.ts FILE.cpuprofile --svg > flame.svg
 */
import { parseArgs } from "node:util";
import { flameGraphSvg } from "./_flame_graph.ts";

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

/** One frame of the call tree: the time of the samples under this path. */
export interface CallTreeNode {
  frame: string;
  us: number;
  children: CallTreeNode[];
}

/**
 * The samples of `profile` as a call tree from the root, nodes of one
 * frame under one parent merged (V8 may split them), children by time.
 */
export function callTree(profile: CpuProfile): CallTreeNode {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const sampledUs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    sampledUs.set(
      id,
      (sampledUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0),
    );
  });
  const build = (ids: readonly number[], frame: string): CallTreeNode => {
    let us = 0;
    const childIds = new Map<string, number[]>();
    for (const id of ids) {
      us += sampledUs.get(id) ?? 0;
      for (const child of byId.get(id)!.children ?? []) {
        const name = frameName(byId.get(child)!);
        childIds.set(name, [...(childIds.get(name) ?? []), child]);
      }
    }
    const children = [...childIds].map(([name, group]) => build(group, name));
    for (const child of children) us += child.us;
    return { frame, us, children: children.sort((a, b) => b.us - a.us) };
  };
  const root = profile.nodes[0]!;
  return build([root.id], frameName(root));
}

/** The tree's paths of at least `minShare` of its time, indented. */
export function treeLines(tree: CallTreeNode, minShare: number): string[] {
  const lines: string[] = [];
  const walk = (node: CallTreeNode, depth: number) => {
    const share = 100 * node.us / tree.us;
    if (share < minShare) return;
    lines.push(
      `${share.toFixed(1).padStart(5)}%  ${"  ".repeat(depth)}${node.frame}`,
    );
    for (const child of node.children) walk(child, depth + 1);
  };
  walk(tree, 0);
  return lines;
}

/** The tree's samples as folded stacks: `root;…;frame µs`, one per leaf path with self time. */
export function foldedStacks(tree: CallTreeNode): string[] {
  const lines: string[] = [];
  const walk = (node: CallTreeNode, path: string) => {
    const here = path === "" ? node.frame : `${path};${node.frame}`;
    const self = node.us - node.children.reduce((sum, c) => sum + c.us, 0);
    if (self > 0) lines.push(`${here} ${Math.round(self)}`);
    for (const child of node.children) walk(child, here);
  };
  walk(tree, "");
  return lines;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      top: { type: "string", default: "30" },
      tree: { type: "string" },
      folded: { type: "boolean", default: false },
      svg: { type: "boolean", default: false },
      min: { type: "string", default: "0.1" },
      title: { type: "string" },
    },
    allowPositionals: true,
  });
  const top = Number(values.top);
  for (const file of positionals) {
    const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
    if (values.svg) {
      const title = values.title ?? file.split("/").at(-1)!;
      Deno.stdout.writeSync(
        new TextEncoder().encode(
          flameGraphSvg(callTree(profile), {
            title,
            minShare: Number(values.min),
          }),
        ),
      );
      continue;
    }
    if (values.folded) {
      for (const line of foldedStacks(callTree(profile))) console.log(line);
      continue;
    }
    if (values.tree !== undefined) {
      console.log(`${file}: call tree, paths of at least ${values.tree}%`);
      for (const line of treeLines(callTree(profile), Number(values.tree))) {
        console.log(line);
      }
      continue;
    }
    const summary = summarize(profile);
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
