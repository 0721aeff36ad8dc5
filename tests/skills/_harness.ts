// Shared by the skill behaviour tests: builds a skill if needed, runs it
// through the real Extism JS SDK with fixed host answers, and inspects the
// module binary.
import assert from "node:assert/strict";
import createPlugin, { type CallContext, type Plugin } from "@extism/extism";
import { join } from "node:path";
import type { SkillPin } from "../../actors/run_messages.ts";
import { buildSkills, PROJECT_ROOT } from "../../src/skills/build.ts";
import type { SkillManifest } from "../../src/skills/manifest.ts";
import { sha256Hex } from "../../src/store/mod.ts";

/** What the fake host answers; fixed so outputs can be asserted exactly. */
export const HOST_NOW_MS = 1700000000000n;
export const HOST_RANDOM_BYTE = 0xab;

/** The module of a skill folder (relative to the project root), built if stale. */
export async function skillModule(dir: string): Promise<Uint8Array> {
  const [built] = await buildSkills([join(PROJECT_ROOT, dir)], {
    ifStale: true,
  });
  return await Deno.readFile(built!.wasmPath);
}

/** The pin a run records for `manifest` shipped with `bytes`. */
export function pinOf(manifest: SkillManifest, bytes: Uint8Array): SkillPin {
  return {
    name: manifest.name,
    version: manifest.version,
    sha256: sha256Hex(bytes),
    entrypoint: manifest.entrypoint,
    timeout_ms: manifest.timeout_ms,
  };
}

/** A plugin configured the way the sandbox runs skills (worker, no WASI). */
export function openPlugin(wasm: Uint8Array): Promise<Plugin> {
  return createPlugin({ wasm: [{ data: wasm }] }, {
    useWasi: false,
    runInWorker: true,
    nodeWorkerArgs: { execArgv: [] },
    functions: {
      "extism:host/user": {
        aos_now: () => HOST_NOW_MS,
        aos_random: (context: CallContext, n: bigint) =>
          context.store(new Uint8Array(Number(n)).fill(HOST_RANDOM_BYTE)),
      },
    },
  });
}

/** A skill error as the guest reports it through error_set. */
export interface SkillError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** The outcome of one call: the output text, or the reported error. */
export type CallResult = { ok: true; text: string } | {
  ok: false;
  error: SkillError;
};

const PLUGIN_ERROR_PREFIX = "Plugin-originated error: ";

/** Calls `run` with `params` serialised as JSON. */
export async function callSkill(
  plugin: Plugin,
  params: unknown,
): Promise<CallResult> {
  return await callSkillText(plugin, JSON.stringify(params));
}

/** Calls `run` with raw input text or bytes (for malformed-input cases). */
export async function callSkillText(
  plugin: Plugin,
  input: string | Uint8Array,
): Promise<CallResult> {
  try {
    const output = await plugin.call("run", input);
    return { ok: true, text: output?.text() ?? "" };
  } catch (error) {
    // Worker plugins reject traps with a plain { message } object.
    const message = String((error as { message?: unknown })?.message ?? error);
    if (!message.startsWith(PLUGIN_ERROR_PREFIX)) throw error;
    return {
      ok: false,
      error: JSON.parse(message.slice(PLUGIN_ERROR_PREFIX.length)),
    };
  }
}

/** Canonical JSON written independently of the guest: sorted keys, no spaces. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const object = value as Record<string, unknown>;
    const members = Object.keys(object).sort().map((key) =>
      `${JSON.stringify(key)}:${canonical(object[key])}`
    );
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Asserts success and canonical output bytes; returns the parsed output. */
export function expectOutput(outcome: CallResult): Record<string, unknown> {
  if (!outcome.ok) {
    assert.fail(`expected success, got ${JSON.stringify(outcome.error)}`);
  }
  const parsed = JSON.parse(outcome.text);
  assert.equal(outcome.text, canonical(parsed), "output is not canonical JSON");
  return parsed;
}

/** Asserts the call failed with `code`; returns the error's details. */
export function expectError(
  outcome: CallResult,
  code: string,
): Record<string, unknown> {
  if (outcome.ok) assert.fail(`expected ${code}, got output ${outcome.text}`);
  assert.equal(outcome.error.code, code, outcome.error.message);
  assert.equal(typeof outcome.error.message, "string");
  return outcome.error.details;
}

/** The ids of a module's sections, in order (8 is the start section). */
export function sectionIds(wasm: Uint8Array): number[] {
  const ids: number[] = [];
  let position = 8; // magic and version
  while (position < wasm.length) {
    ids.push(wasm[position++]!);
    let size = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = wasm[position++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    position += size;
  }
  return ids;
}

/** The distinct modules a Wasm module imports from. */
export function importModules(wasm: Uint8Array): string[] {
  const imports = WebAssembly.Module.imports(
    new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>),
  );
  return [...new Set(imports.map((entry) => entry.module))].sort();
}

/**
 * Runs `run` on a bare WebAssembly instance with a minimal stand-in for the
 * Extism kernel, calling `_initialize` first only if asked. It exists to show
 * what a host that skipped `_initialize` would get, which the SDK cannot do.
 */
export function runWithoutSdk(
  wasm: Uint8Array,
  input: string,
  options: { initialize: boolean },
): string {
  const inputBytes = new TextEncoder().encode(input);
  const inputView = new DataView(inputBytes.buffer);
  const blocks: DataView[] = [new DataView(new ArrayBuffer(0))];
  let outputBlock = -1;
  const block = (address: bigint) => blocks[Number(address >> 48n)]!;
  const offset = (address: bigint) => Number(address & 0xffffffffffffn);
  const kernel = {
    input_length: () => BigInt(inputBytes.length),
    input_load_u8: (address: bigint) => inputBytes[offset(address)],
    input_load_u64: (address: bigint) =>
      inputView.getBigUint64(offset(address), true),
    alloc: (n: bigint) =>
      BigInt(blocks.push(new DataView(new ArrayBuffer(Number(n)))) - 1) << 48n,
    store_u8: (address: bigint, value: number) =>
      block(address).setUint8(offset(address), value),
    store_u64: (address: bigint, value: bigint) =>
      block(address).setBigUint64(offset(address), value, true),
    output_set: (address: bigint) => {
      outputBlock = Number(address >> 48n);
    },
    error_set: () => {},
    log_error: () => {},
  };
  const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
  const instance = new WebAssembly.Instance(module, {
    "extism:host/env": kernel,
  });
  if (options.initialize) (instance.exports._initialize as () => void)();
  const status = (instance.exports.run as () => number)();
  if (status !== 0 || outputBlock < 0) {
    throw new Error(`run returned ${status}`);
  }
  return new TextDecoder().decode(blocks[outputBlock]!);
}
