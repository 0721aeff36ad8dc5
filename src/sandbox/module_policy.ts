import { AosError } from "../errors/mod.ts";
import type { ModuleImport, ModuleInfo } from "./module_inspector.ts";

/** What a module may be; built from its manifest and the node's limits. */
export interface ModulePolicy {
  /** The export the manifest names; it must be a function. */
  entrypoint: string;
  /** The manifest's permissions (`http`, `sql`, `sql:write`, …). */
  permissions: readonly string[];
  /** Most pages (64 KiB) of linear memory: `memory_mb * 16`. */
  memoryMaxPages: number;
  moduleMaxBytes: number;
}

/** Bytes in one page of linear memory. */
export const MEMORY_PAGE_BYTES = 65_536;

/** The Extism kernel's namespace. */
export const KERNEL_NAMESPACE = "extism:host/env";
/** The namespace of the AOS host functions. */
export const HOST_NAMESPACE = "extism:host/user";

const ALWAYS: readonly string[] = Object.freeze([]);

/**
 * Every function a module may import, by namespace and name, with the
 * permissions that grant it: an empty list means always granted, otherwise
 * any one of the listed permissions grants it. Nothing else may be imported:
 * no WASI, no `env`, no memories, tables or globals. The host and the docs
 * read this table; it is the whole of a skill's ambient authority.
 */
export const HOST_IMPORTS: Readonly<
  Record<string, Readonly<Record<string, readonly string[]>>>
> = Object.freeze({
  [KERNEL_NAMESPACE]: Object.freeze({
    input_length: ALWAYS,
    input_load_u8: ALWAYS,
    input_load_u64: ALWAYS,
    input_offset: ALWAYS,
    length: ALWAYS,
    length_unsafe: ALWAYS,
    alloc: ALWAYS,
    free: ALWAYS,
    output_set: ALWAYS,
    error_set: ALWAYS,
    error_get: ALWAYS,
    config_get: ALWAYS,
    var_get: ALWAYS,
    var_set: ALWAYS,
    store_u8: ALWAYS,
    load_u8: ALWAYS,
    store_u64: ALWAYS,
    load_u64: ALWAYS,
    log_warn: ALWAYS,
    log_info: ALWAYS,
    log_debug: ALWAYS,
    log_error: ALWAYS,
    log_trace: ALWAYS,
    get_log_level: ALWAYS,
    http_request: Object.freeze(["http"]),
    http_status_code: Object.freeze(["http"]),
    http_headers: Object.freeze(["http"]),
  }),
  [HOST_NAMESPACE]: Object.freeze({
    aos_now: ALWAYS,
    aos_random: ALWAYS,
    aos_http: Object.freeze(["http"]),
    aos_sql: Object.freeze(["sql", "sql:write"]),
    aos_calendar: Object.freeze(["calendar"]),
  }),
});

/**
 * The permissions that grant importing function `module.name` (empty:
 * always granted), or undefined when AOS never grants it.
 */
export function importPermissions(
  module: string,
  name: string,
): readonly string[] | undefined {
  // Own properties only: `__proto__` or `toString` must not look granted.
  if (!Object.hasOwn(HOST_IMPORTS, module)) return undefined;
  const functions = HOST_IMPORTS[module]!;
  return Object.hasOwn(functions, name) ? functions[name] : undefined;
}

/**
 * True when no function that `permissions` lets a module import can make
 * anything leave the process: the Extism kernel's own functions (the call's
 * memory, input, output and log) but its HTTP, and the recorded clock and
 * randomness. A skill granted only those can be run before its StepStarted
 * is on disk (its outcome still waits for the StepStarted's append, and its
 * answers of the clock or randomness for their own). A function added to
 * `HOST_IMPORTS` counts as leaving the process until it is named here.
 */
export function grantsOnlyInProcess(permissions: readonly string[]): boolean {
  for (const [module, functions] of Object.entries(HOST_IMPORTS)) {
    for (const [name, grantedBy] of Object.entries(functions)) {
      const granted = grantedBy.length === 0 ||
        grantedBy.some((permission) => permissions.includes(permission));
      if (granted && !staysInProcess(module, name)) return false;
    }
  }
  return true;
}

function staysInProcess(module: string, name: string): boolean {
  if (module === KERNEL_NAMESPACE) return !name.startsWith("http_");
  return module === HOST_NAMESPACE &&
    (name === "aos_now" || name === "aos_random");
}

/** MODULE_TOO_LARGE when `byteLength` exceeds the policy; check before parsing. */
export function checkModuleSize(
  byteLength: number,
  policy: ModulePolicy,
): void {
  if (byteLength > policy.moduleMaxBytes) {
    throw new AosError(
      "MODULE_TOO_LARGE",
      `the module is ${byteLength} bytes; the limit is ${policy.moduleMaxBytes}`,
      {
        details: { bytes: byteLength, limit_bytes: policy.moduleMaxBytes },
      },
    );
  }
}

/**
 * Throws an AosError naming the first reason the module may not run under
 * `policy`: size, then imports, start function, entrypoint and memories.
 *
 * @example
 * ```ts
 * checkModule(inspectModule(bytes), {
 *   entrypoint: "run",
 *   permissions: [],
 *   memoryMaxPages: 16 * 16,
 *   moduleMaxBytes: 8 << 20,
 * });
 * ```
 */
export function checkModule(info: ModuleInfo, policy: ModulePolicy): void {
  checkModuleSize(info.byteLength, policy);
  checkImports(info.imports, policy.permissions);
  if (info.hasStart) {
    throw new AosError(
      "MODULE_START_FORBIDDEN",
      `the module has a start function (function ${info.startFunctionIndex}), ` +
        "which would run while it loads",
      { details: { function_index: info.startFunctionIndex } },
    );
  }
  checkEntrypoint(info, policy.entrypoint);
  checkMemories(info, policy.memoryMaxPages);
}

interface ForbiddenImport {
  import: string;
  kind: string;
  reason: string;
  granted_by: readonly string[];
}

function checkImports(
  imports: readonly ModuleImport[],
  permissions: readonly string[],
): void {
  const forbidden: ForbiddenImport[] = [];
  for (const { module, name, kind } of imports) {
    const grantedBy = importPermissions(module, name);
    const reason = refusal(module, kind, grantedBy, permissions);
    if (reason !== undefined) {
      forbidden.push({
        import: `${module}.${name}`,
        kind,
        reason,
        granted_by: grantedBy ?? [],
      });
    }
  }
  const first = forbidden[0];
  if (first === undefined) return;
  const more = forbidden.length > 1
    ? ` (and ${forbidden.length - 1} more forbidden imports)`
    : "";
  throw new AosError(
    "MODULE_IMPORT_FORBIDDEN",
    `the module imports ${first.kind} ${first.import}: ${first.reason}${more}`,
    {
      details: {
        import: first.import,
        kind: first.kind,
        granted_by: first.granted_by,
        forbidden_imports: forbidden.slice(0, 100),
      },
    },
  );
}

function refusal(
  module: string,
  kind: string,
  grantedBy: readonly string[] | undefined,
  permissions: readonly string[],
): string | undefined {
  if (kind !== "function") {
    return "modules may import only functions (a module defines its own memory)";
  }
  if (grantedBy === undefined) {
    return module.startsWith("wasi_")
      ? "WASI is not available to skills"
      : "AOS provides no such function";
  }
  if (grantedBy.length === 0) return undefined;
  if (grantedBy.some((permission) => permissions.includes(permission))) {
    return undefined;
  }
  const names = grantedBy.map((permission) => `"${permission}"`).join(" or ");
  return `it needs permission ${names} in the manifest`;
}

function checkEntrypoint(info: ModuleInfo, entrypoint: string): void {
  const exported = info.exports.find((entry) => entry.name === entrypoint);
  if (exported?.kind === "function") return;
  const what = exported === undefined
    ? "does not export it"
    : `exports it as a ${exported.kind}, not a function`;
  throw new AosError(
    "MODULE_ENTRYPOINT_MISSING",
    `the manifest's entrypoint is "${entrypoint}", but the module ${what}`,
    {
      details: {
        entrypoint,
        exported_functions: info.exports
          .filter((entry) => entry.kind === "function")
          .map((entry) => entry.name)
          .slice(0, 100),
      },
    },
  );
}

function checkMemories(info: ModuleInfo, memoryMaxPages: number): void {
  if (info.memories.length + info.importedMemories.length > 1) {
    throw new AosError(
      "MODULE_INVALID",
      "the module has more than one memory; AOS supports one",
      { details: { memories: info.memories.length } },
    );
  }
  const memory = info.memories[0];
  if (memory === undefined) return;
  if (memory.shared || memory.memory64) {
    throw new AosError(
      "MODULE_INVALID",
      `the module's memory is ${memory.shared ? "shared" : "64-bit"}; ` +
        "AOS supports one unshared 32-bit memory",
      { details: { shared: memory.shared, memory64: memory.memory64 } },
    );
  }
  if (memory.minPages > memoryMaxPages) {
    throw new AosError(
      "MODULE_MEMORY_TOO_LARGE",
      `the module's memory starts at ${memory.minPages} pages ` +
        `(${memory.minPages * MEMORY_PAGE_BYTES} bytes); ` +
        `the limit is ${memoryMaxPages} pages`,
      {
        details: { min_pages: memory.minPages, limit_pages: memoryMaxPages },
      },
    );
  }
}
