import assert from "node:assert/strict";
import { openTestNode, requestJson } from "../../tests/support/test_node.ts";

type Document = {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: unknown;
}

interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  responses?: Record<string, unknown>;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/** `/v1/runs/:id/signals/:name` → `/v1/runs/{id}/signals/{name}`. */
function template(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}

/** Resolves a local JSON pointer reference (`#/a/b`) in `document`. */
function resolve(document: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = document;
  for (const raw of ref.slice(2).split("/")) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll(
      "~0",
      "~",
    );
    if (
      typeof node !== "object" || node === null || !Object.hasOwn(node, key)
    ) {
      return undefined;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Every `$ref` in `value`, with the JSON pointer of where it is. */
function refsIn(value: unknown, at = ""): [string, string][] {
  if (typeof value !== "object" || value === null) return [];
  const found: [string, string][] = [];
  for (const [key, member] of Object.entries(value)) {
    if (key === "$ref" && typeof member === "string") found.push([at, member]);
    found.push(...refsIn(member, `${at}/${key}`));
  }
  return found;
}

Deno.test("/openapi.json documents every route the app serves, and only those", async () => {
  const node = await openTestNode();
  try {
    const { status, body } = await requestJson(node, "GET", "/openapi.json");
    assert.equal(status, 200);
    const document = body as unknown as Document;
    // Middleware is registered as method ALL; routes have a real method.
    const served = new Set(
      node.app.routes
        .filter((route) => METHODS.includes(route.method.toLowerCase()))
        .map((route) =>
          `${route.method.toUpperCase()} ${template(route.path)}`
        ),
    );
    assert.ok(served.size > 20, `only ${served.size} routes found`);
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, item]) =>
        Object.keys(item).filter((key) => METHODS.includes(key)).map((
          method,
        ) => `${method.toUpperCase()} ${path}`)
      ),
    );
    const missing = [...served].filter((route) => !documented.has(route));
    assert.deepEqual(
      missing,
      [],
      `routes the app serves that /openapi.json lacks: ${missing.join(", ")}`,
    );
    const phantom = [...documented].filter((route) => !served.has(route));
    assert.deepEqual(
      phantom,
      [],
      `operations /openapi.json documents that the app does not serve: ${
        phantom.join(", ")
      }`,
    );
  } finally {
    await node.close();
  }
});

Deno.test("/openapi.json is structurally valid OpenAPI 3.1: refs resolve, path parameters are declared", async () => {
  const node = await openTestNode();
  try {
    const document = (await requestJson(node, "GET", "/openapi.json"))
      .body as unknown as Document;
    assert.equal(document.openapi, "3.1.0");
    assert.equal(typeof document.info.title, "string");
    assert.equal(typeof document.info.version, "string");

    const refs = refsIn(document);
    assert.ok(refs.length > 20, `only ${refs.length} $refs`);
    const broken = refs.filter(([, ref]) =>
      resolve(document, ref) === undefined
    )
      .map(([at, ref]) => `${ref} at ${at}`);
    assert.deepEqual(broken, [], `unresolved $refs: ${broken.join(", ")}`);

    const operationIds = new Map<string, string>();
    for (const [path, item] of Object.entries(document.paths)) {
      assert.match(path, /^\//, `${path} must start with /`);
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((match) =>
        match[1]!
      );
      for (const method of Object.keys(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(METHODS.includes(method), `${where}: not an HTTP method`);
        const operation = item[method]!;
        assert.ok(
          operation.responses !== undefined &&
            Object.keys(operation.responses).length > 0,
          `${where} has no responses`,
        );
        for (const status of Object.keys(operation.responses)) {
          assert.match(status, /^(default|[1-5]\d\d|[1-5]XX)$/, where);
        }
        if (operation.operationId !== undefined) {
          const other = operationIds.get(operation.operationId);
          assert.equal(other, undefined, `${where} reuses ${other}'s id`);
          operationIds.set(operation.operationId, where);
        }
        const parameters = operation.parameters ?? [];
        const keys = parameters.map((parameter) =>
          `${parameter.in}:${parameter.name}`
        );
        assert.equal(new Set(keys).size, keys.length, `${where}: ${keys}`);
        for (const parameter of parameters) {
          assert.ok(
            ["path", "query", "header", "cookie"].includes(parameter.in),
            `${where}: parameter ${parameter.name} in ${parameter.in}`,
          );
          assert.ok(
            parameter.schema !== undefined,
            `${where}: ${parameter.name}`,
          );
        }
        const declared = parameters.filter((parameter) =>
          parameter.in === "path"
        );
        for (const name of inTemplate) {
          const parameter = declared.find((each) => each.name === name);
          assert.ok(
            parameter,
            `${where}: path parameter {${name}} is not declared`,
          );
          assert.equal(
            parameter.required,
            true,
            `${where}: {${name}} must be required`,
          );
        }
        for (const parameter of declared) {
          assert.ok(
            inTemplate.includes(parameter.name),
            `${where}: declares path parameter ${parameter.name} that the path lacks`,
          );
        }
      }
    }
  } finally {
    await node.close();
  }
});

Deno.test("/openapi.json takes request bodies from the schemas the routes validate with", async () => {
  const node = await openTestNode();
  try {
    const document = (await requestJson(node, "GET", "/openapi.json"))
      .body as unknown as Document;
    const schemas = document.components.schemas as Record<
      string,
      { properties: Record<string, unknown>; required?: string[] }
    >;
    assert.deepEqual(Object.keys(schemas.ForkRequest!.properties).sort(), [
      "from_step",
      "overrides",
    ]);
    assert.deepEqual(schemas.ForkRequest!.required, ["from_step"]);
    assert.deepEqual(Object.keys(schemas.ResumeRequest!.properties).sort(), [
      "budget_cents",
      "params",
      "step",
    ]);
    assert.deepEqual(Object.keys(schemas.ReplayRequest!.properties), ["skill"]);
    assert.deepEqual(Object.keys(schemas.SkillInstall!.properties).sort(), [
      "manifest",
      "manifest_yaml",
      "module_base64",
      "sha256",
    ]);
    // What the document says a route refuses, the route refuses.
    const fork = await requestJson(node, "POST", "/v1/runs/run_x/fork", {
      from_step: "a",
      unknown: 1,
    });
    assert.equal(fork.status, 404); // the run is checked first
    const { body } = await requestJson(node, "POST", "/v1/runs", {
      steps: [{ id: "a", skill: "json_transform", params: {} }],
    });
    const refused = await requestJson(
      node,
      "POST",
      `/v1/runs/${body.run_id}/fork`,
      { from_step: "a", unknown: 1 },
    );
    assert.equal(refused.status, 400);
    assert.equal(
      (schemas.ForkRequest as { additionalProperties?: boolean })
        .additionalProperties,
      false,
    );
  } finally {
    await node.close();
  }
});
