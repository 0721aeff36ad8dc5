import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

// What `aos serve` must not hold: the PostgreSQL driver on a SQLite node
// (the store and the SQL service load it when they first need it), the
// skill compiler and test tooling (other commands load them), and the HTTP
// client (loaded at a skill's first outbound call).
const LOADED_ON_DEMAND = [
  "pg",
  "pg-cursor",
  "pg-pool",
  "assemblyscript",
  "binaryen",
  "wabt",
  "undici",
];

interface ModuleGraph {
  roots: string[];
  modules: {
    specifier: string;
    dependencies?: {
      isDynamic?: boolean;
      code?: { specifier?: string };
    }[];
  }[];
}

async function moduleGraph(path: string): Promise<ModuleGraph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", fileURLToPath(new URL(path, import.meta.url))],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** The npm packages a module loads when it is imported, before any dynamic import. */
function staticPackages(graph: ModuleGraph): Set<string> {
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const pending = [...graph.roots];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      const next = dependency.code?.specifier;
      if (next !== undefined && dependency.isDynamic !== true) {
        pending.push(next);
      }
    }
  }
  const packages = new Set<string>();
  for (const specifier of seen) {
    const name = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@/.exec(specifier)?.[1];
    if (name !== undefined) packages.add(name);
  }
  return packages;
}

Deno.test("aos serve starts without the PostgreSQL driver, the skill compiler or the HTTP client", async () => {
  // `aos serve` imports main.ts, then serve.ts when the command is chosen.
  const loaded = new Set([
    ...staticPackages(await moduleGraph("../../main.ts")),
    ...staticPackages(await moduleGraph("./serve.ts")),
  ]);
  assert.ok(loaded.has("hono"), "the graph was read");
  const unwanted = LOADED_ON_DEMAND.filter((name) => loaded.has(name));
  assert.deepEqual(unwanted, []);
});
