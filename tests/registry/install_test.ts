import assert from "node:assert/strict";
import { assertLogsReplay } from "../support/replay_check.ts";
import { join } from "node:path";
import { stringify as toYaml } from "yaml";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { hostileModule } from "../support/hostile_modules.ts";
import { openTestNode, requestJson } from "../support/test_node.ts";

const ADMIN_KEY = "admin-key-for-tests-0123456789";
const TRANSFORM = Deno.readFileSync(
  join(PROJECT_ROOT, "skills-wasm", "json_transform", "json_transform.wasm"),
);

function manifest(
  version: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: "acme.reshape",
    version,
    description: "A third-party skill",
    input_schema: { type: "object" },
    output_schema: { type: "object" },
    owner: "acme",
    ...extra,
  };
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

async function install(
  node: Awaited<ReturnType<typeof openTestNode>>,
  body: unknown,
  key: string | null = ADMIN_KEY,
) {
  const response = await node.app.request("/v1/skills", {
    method: "POST",
    body: JSON.stringify(body),
    headers: {
      "content-type": "application/json",
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
    },
  });
  return {
    status: response.status,
    body: await response.json() as Record<string, unknown>,
  };
}

async function waitRun(
  node: Awaited<ReturnType<typeof openTestNode>>,
  plan: unknown,
) {
  const { body } = await requestJson(node, "POST", "/v1/runs", plan);
  assert.ok(body.run_id, JSON.stringify(body));
  return (await requestJson(
    node,
    "GET",
    `/v1/runs/${body.run_id}?wait_ms=30000`,
  )).body;
}

Deno.test("a third-party skill installed over HTTP runs, and v2 changes nothing for runs pinned to v1", async () => {
  const node = await openTestNode({ config: { adminKey: ADMIN_KEY } });
  try {
    const v1 = await install(node, {
      manifest: manifest("1.0.0"),
      module_base64: base64(TRANSFORM),
    });
    assert.equal(v1.status, 201, JSON.stringify(v1.body));
    const again = await install(node, {
      manifest_yaml: toYaml(manifest("1.0.0")),
      module_base64: base64(TRANSFORM),
    });
    assert.deepEqual([again.status, again.body.created], [200, false]);

    const plan = {
      steps: [
        {
          id: "slow",
          skill: "spin",
          params: { iterations: 1000, value: { a: 1, b: 2 } },
        },
        {
          id: "pick",
          skill: "acme.reshape",
          params: {
            op: "pick",
            input: "{{steps.slow.output.value}}",
            keys: ["a"],
          },
        },
      ],
    };
    const pinnedToV1 = await requestJson(node, "POST", "/v1/runs", plan);
    const echo = await hostileModule("well_behaved");
    const form = new FormData();
    form.set("manifest", toYaml(manifest("2.0.0")));
    form.set(
      "module",
      new File([echo as Uint8Array<ArrayBuffer>], "module.wasm"),
    );
    const v2 = await node.app.request("/v1/skills", {
      method: "POST",
      body: form,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(v2.status, 201, await v2.clone().text());

    const v1Run = (await requestJson(
      node,
      "GET",
      `/v1/runs/${pinnedToV1.body.run_id}?wait_ms=30000`,
    )).body;
    assert.equal(v1Run.status, "succeeded");
    assert.deepEqual((v1Run.output as { result: unknown }).result, { a: 1 });
    assert.match(
      String((v1Run.steps as { skill: string }[])[1]!.skill),
      /^acme\.reshape@1\.0\.0#/,
    );

    const latest = await waitRun(node, plan);
    assert.match(
      String((latest.steps as { skill: string }[])[1]!.skill),
      /^acme\.reshape@2\.0\.0#/,
    );
    const explicit = await waitRun(node, {
      steps: [{
        id: "x",
        skill: "acme.reshape@1.0.0",
        params: { op: "pick", input: { z: 1 }, keys: ["z"] },
      }],
    });
    assert.deepEqual((explicit.output as { result: unknown }).result, { z: 1 });

    const versions = await requestJson(node, "GET", "/v1/skills/acme.reshape");
    assert.deepEqual(
      (versions.body.versions as { version: string }[]).map((v) => v.version),
      ["1.0.0", "2.0.0"],
    );
    const one = await requestJson(node, "GET", "/v1/skills/acme.reshape/1.0.0");
    assert.equal((one.body.manifest as { owner: string }).owner, "acme");
    assert.equal(
      (await requestJson(node, "GET", "/v1/skills/acme.reshape/9.0.0")).status,
      404,
    );

    await assertLogsReplay(node.registry, [
      await node.store.readLog(String(pinnedToV1.body.run_id)),
    ]);
  } finally {
    await node.close();
  }
});

Deno.test("bad installs get a clear error and leave the registry unchanged", async () => {
  const node = await openTestNode({
    config: {
      adminKey: ADMIN_KEY,
      limits: {
        timeoutMsMax: 60_000,
        memoryMbMax: 256,
        outputBytesMax: 1 << 22,
        moduleBytesMax: 256 * 1024,
      },
    },
  });
  try {
    await install(node, {
      manifest: manifest("1.0.0"),
      module_base64: base64(TRANSFORM),
    });
    const before = await requestJson(node, "GET", "/v1/skills");
    const modulesBefore = (await node.store.listSkills()).length;
    const big = new Uint8Array(257 * 1024);
    big.set(TRANSFORM.subarray(0, 8));
    const wasi = await hostileModule("wasi_import");
    const table: [string, unknown, string | null, number, string, string?][] = [
      [
        "no admin key",
        { manifest: manifest("1.1.0"), module_base64: base64(TRANSFORM) },
        null,
        401,
        "AUTH_KEY_MISSING",
      ],
      [
        "wrong admin key",
        { manifest: manifest("1.1.0"), module_base64: base64(TRANSFORM) },
        "not-the-key",
        401,
        "AUTH_KEY_INVALID",
      ],
      [
        "invalid manifest",
        {
          manifest: { name: "acme.reshape" },
          module_base64: base64(TRANSFORM),
        },
        ADMIN_KEY,
        400,
        "VALIDATION_BODY_INVALID",
        "/manifest/version",
      ],
      [
        "bad semver",
        { manifest: manifest("1.0"), module_base64: base64(TRANSFORM) },
        ADMIN_KEY,
        400,
        "VALIDATION_BODY_INVALID",
        "/manifest/version",
      ],
      [
        "bad name",
        {
          manifest: { ...manifest("1.0.0"), name: "Acme Reshape" },
          module_base64: base64(TRANSFORM),
        },
        ADMIN_KEY,
        400,
        "VALIDATION_BODY_INVALID",
        "/manifest/name",
      ],
      [
        "schema that is not JSON Schema",
        {
          manifest: manifest("1.7.0", { input_schema: { type: "objekt" } }),
          module_base64: base64(TRANSFORM),
        },
        ADMIN_KEY,
        400,
        "SKILL_MANIFEST_INVALID",
      ],
      [
        "module over the size cap",
        { manifest: manifest("1.2.0"), module_base64: base64(big) },
        ADMIN_KEY,
        413,
        "MODULE_TOO_LARGE",
      ],
      [
        "disallowed import",
        { manifest: manifest("1.3.0"), module_base64: base64(wasi) },
        ADMIN_KEY,
        400,
        "MODULE_IMPORT_FORBIDDEN",
      ],
      [
        "not a module",
        {
          manifest: manifest("1.4.0"),
          module_base64: base64(new TextEncoder().encode("#!/bin/sh")),
        },
        ADMIN_KEY,
        400,
        "MODULE_INVALID",
      ],
      [
        "hash mismatch",
        {
          manifest: manifest("1.5.0"),
          module_base64: base64(TRANSFORM),
          sha256: "0".repeat(64),
        },
        ADMIN_KEY,
        400,
        "SKILL_HASH_MISMATCH",
      ],
      [
        "version conflict",
        {
          manifest: manifest("1.0.0"),
          module_base64: base64(await hostileModule("well_behaved")),
        },
        ADMIN_KEY,
        409,
        "SKILL_VERSION_CONFLICT",
      ],
      [
        "entrypoint missing",
        {
          manifest: manifest("1.6.0", { entrypoint: "main" }),
          module_base64: base64(TRANSFORM),
        },
        ADMIN_KEY,
        400,
        "MODULE_ENTRYPOINT_MISSING",
      ],
    ];
    for (const [name, body, key, status, code, pointer] of table) {
      const response = await install(node, body, key);
      const error = response.body.error as {
        code: string;
        details: { issues?: { pointer: string }[] };
      };
      assert.equal(
        response.status,
        status,
        `${name}: ${JSON.stringify(response.body)}`,
      );
      assert.equal(error.code, code, name);
      if (pointer !== undefined) {
        assert.ok(
          error.details.issues?.some((issue) => issue.pointer === pointer),
          name,
        );
      }
    }
    assert.deepEqual(await requestJson(node, "GET", "/v1/skills"), before);
    assert.equal((await node.store.listSkills()).length, modulesBefore);
  } finally {
    await node.close();
  }
});

Deno.test("without a configured admin key, installs are refused", async () => {
  const node = await openTestNode();
  try {
    const response = await install(node, {
      manifest: manifest("1.0.0"),
      module_base64: base64(TRANSFORM),
    }, "anything-at-all-here");
    assert.equal(response.status, 401);
    assert.equal(
      (response.body.error as { code: string }).code,
      "AUTH_KEY_INVALID",
    );
  } finally {
    await node.close();
  }
});

Deno.test("the C example skill, built with clang, installs over HTTP like any third-party skill and runs in a plan", async () => {
  const dir = join(PROJECT_ROOT, "tests", "fixtures", "skills-c", "word_count");
  const make = await new Deno.Command("make", {
    args: ["-s"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(make.code, 0, new TextDecoder().decode(make.stderr));
  const node = await openTestNode({ config: { adminKey: ADMIN_KEY } });
  try {
    const form = new FormData();
    form.set("manifest", Deno.readTextFileSync(join(dir, "manifest.yaml")));
    form.set(
      "module",
      new File(
        [Deno.readFileSync(join(dir, "word_count.wasm"))],
        "word_count.wasm",
      ),
    );
    const installed = await node.app.request("/v1/skills", {
      method: "POST",
      body: form,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(installed.status, 201, await installed.clone().text());
    const view = await waitRun(node, {
      steps: [{
        id: "count",
        skill: "word_count",
        params: { text: "one two  three\tfour" },
      }],
    });
    assert.equal(view.status, "succeeded", JSON.stringify(view.error));
    assert.equal((view.output as { words: number }).words, 4);
    assert.equal(typeof (view.output as { at_ms: number }).at_ms, "number");
  } finally {
    await node.close();
  }
});
