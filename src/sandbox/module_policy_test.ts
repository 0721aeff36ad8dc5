import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import {
  compileWat,
  HOSTILE_MODULE_NAMES,
  hostileModule,
  type HostileModuleName,
} from "../../tests/support/hostile_modules.ts";
import { inspectModule } from "./module_inspector.ts";
import {
  checkModule,
  checkModuleSize,
  grantsOnlyInProcess,
  HOST_IMPORTS,
  importPermissions,
  type ModulePolicy,
} from "./module_policy.ts";

const POLICY: ModulePolicy = {
  entrypoint: "run",
  permissions: [],
  memoryMaxPages: 256,
  moduleMaxBytes: 1 << 20,
};

function refusedWith(
  work: () => void,
  code: string,
  message?: RegExp,
): AosError {
  let caught: unknown;
  try {
    work();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof AosError, `expected ${code}, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

async function importing(module: string, name: string, kind = "(func)") {
  return inspectModule(
    await compileWat(`(module
      (import "${module}" "${name}" ${kind})
      (func (export "run") (result i32) (i32.const 0)))`),
  );
}

Deno.test("importPermissions() grants the kernel always, gated functions by permission, and nothing through the prototype", () => {
  assert.deepEqual(importPermissions("extism:host/env", "alloc"), []);
  assert.deepEqual(importPermissions("extism:host/env", "http_request"), [
    "http",
  ]);
  assert.deepEqual(importPermissions("extism:host/user", "aos_now"), []);
  assert.deepEqual(importPermissions("extism:host/user", "aos_sql"), [
    "sql",
    "sql:write",
  ]);
  for (
    const [module, name] of [
      ["extism:host/user", "aos_exec"],
      ["extism:host/env", "__proto__"],
      ["extism:host/env", "toString"],
      ["__proto__", "constructor"],
      ["env", "system"],
      ["wasi_snapshot_preview1", "fd_write"],
    ]
  ) {
    assert.equal(importPermissions(module!, name!), undefined, name);
  }
  assert.ok(Object.isFrozen(HOST_IMPORTS));
  assert.ok(Object.isFrozen(HOST_IMPORTS["extism:host/user"]));
});

Deno.test("grantsOnlyInProcess() is true only for permissions that grant no function reaching outside the process", () => {
  // The clock, randomness and the kernel's own functions stay inside.
  assert.equal(grantsOnlyInProcess([]), true);
  // A secret is read by the HTTP host function only; it grants no import.
  assert.equal(grantsOnlyInProcess(["secrets:TOKEN"]), true);
  for (const permission of ["http", "sql", "sql:write", "calendar"]) {
    assert.equal(grantsOnlyInProcess([permission]), false, permission);
    assert.equal(grantsOnlyInProcess(["secrets:A", permission]), false);
  }
});

const REFUSED: Partial<Record<HostileModuleName, [string, RegExp]>> = {
  wasi_import: [
    "MODULE_IMPORT_FORBIDDEN",
    /wasi_snapshot_preview1\.fd_write: WASI/,
  ],
  unknown_import: ["MODULE_IMPORT_FORBIDDEN", /env\.system/],
  start_loop: ["MODULE_START_FORBIDDEN", /start function/],
  declares_huge_memory: ["MODULE_MEMORY_TOO_LARGE", /65536 pages/],
  no_entrypoint: ["MODULE_ENTRYPOINT_MISSING", /"run"/],
};

Deno.test("checkModule() refuses the hostile fixtures that must never load, and passes the rest", async () => {
  for (const name of HOSTILE_MODULE_NAMES) {
    const info = inspectModule(await hostileModule(name));
    const expected = REFUSED[name];
    if (expected === undefined) {
      checkModule(info, POLICY);
    } else {
      refusedWith(() => checkModule(info, POLICY), ...expected);
    }
  }
});

Deno.test("checkModule() names the permission that would grant a gated import", async () => {
  const http = await importing("extism:host/user", "aos_http");
  const error = refusedWith(
    () => checkModule(http, POLICY),
    "MODULE_IMPORT_FORBIDDEN",
    /extism:host\/user\.aos_http: it needs permission "http"/,
  );
  assert.deepEqual(error.details.granted_by, ["http"]);
  checkModule(http, { ...POLICY, permissions: ["http"] });

  const sql = await importing("extism:host/user", "aos_sql");
  refusedWith(
    () => checkModule(sql, { ...POLICY, permissions: ["http"] }),
    "MODULE_IMPORT_FORBIDDEN",
    /"sql" or "sql:write"/,
  );
  checkModule(sql, { ...POLICY, permissions: ["sql:write"] });

  const kernelHttp = await importing("extism:host/env", "http_request");
  refusedWith(() => checkModule(kernelHttp, POLICY), "MODULE_IMPORT_FORBIDDEN");
  checkModule(kernelHttp, { ...POLICY, permissions: ["http"] });
});

Deno.test("checkModule() refuses imported memories, tables and globals, even from the kernel", async () => {
  for (
    const kind of ["(memory 1)", "(table 1 funcref)", "(global i32)"]
  ) {
    const info = await importing("extism:host/env", "alloc", kind);
    refusedWith(
      () => checkModule(info, POLICY),
      "MODULE_IMPORT_FORBIDDEN",
      /may import only functions/,
    );
  }
});

Deno.test("checkModule() lists every forbidden import in the error's details", async () => {
  const info = inspectModule(
    await compileWat(`(module
      (import "env" "a" (func))
      (import "extism:host/env" "alloc" (func (param i64) (result i64)))
      (import "wasi_unstable" "proc_exit" (func (param i32)))
      (func (export "run") (result i32) (i32.const 0)))`),
  );
  const error = refusedWith(
    () => checkModule(info, POLICY),
    "MODULE_IMPORT_FORBIDDEN",
    /env\.a: .* \(and 1 more forbidden imports\)/,
  );
  assert.deepEqual(
    (error.details.forbidden_imports as { import: string }[]).map((entry) =>
      entry.import
    ),
    ["env.a", "wasi_unstable.proc_exit"],
  );
});

Deno.test("checkModule() refuses shared and 64-bit memories as MODULE_INVALID", async () => {
  const run = `(func (export "run") (result i32) (i32.const 0))`;
  const shared = await compileWat(`(module (memory 1 2 shared) ${run})`, {
    features: { threads: true },
  });
  refusedWith(
    () => checkModule(inspectModule(shared), POLICY),
    "MODULE_INVALID",
    /shared/,
  );
  const wide = await compileWat(`(module (memory i64 1) ${run})`, {
    features: { memory64: true },
  });
  refusedWith(
    () => checkModule(inspectModule(wide), POLICY),
    "MODULE_INVALID",
    /64-bit/,
  );
});

Deno.test("checkModule() refuses an entrypoint that is not an exported function", async () => {
  const info = inspectModule(
    await compileWat(`(module (memory (export "run") 1))`),
  );
  refusedWith(
    () => checkModule(info, POLICY),
    "MODULE_ENTRYPOINT_MISSING",
    /exports it as a memory/,
  );
});

Deno.test("checkModuleSize() refuses a module over moduleMaxBytes before anything parses it", async () => {
  const bytes = await hostileModule("well_behaved");
  const policy = { ...POLICY, moduleMaxBytes: bytes.length - 1 };
  const error = refusedWith(
    () => checkModuleSize(bytes.length, policy),
    "MODULE_TOO_LARGE",
  );
  assert.equal(error.details.limit_bytes, bytes.length - 1);
  refusedWith(
    () => checkModule(inspectModule(bytes), policy),
    "MODULE_TOO_LARGE",
  );
  checkModuleSize(bytes.length, { ...policy, moduleMaxBytes: bytes.length });
});
