import type { Context, Hono } from "hono";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { AosError } from "../errors/mod.ts";
import { manifestSchema } from "../skills/manifest.ts";
import type { RegisteredSkill, SkillRegistry } from "../skills/registry.ts";
import { requireAdmin } from "./auth.ts";
import { parseJsonText, parseWith, readBody, zodIssues } from "./errors.ts";

/** Largest install request: a 16 MiB module in base64 plus its manifest. */
export const INSTALL_BODY_BYTES_MAX = 24 * 1024 * 1024;

/** `POST /v1/skills` as JSON (multipart sends the same as form fields). */
export const installJson = z.object({
  manifest: z.record(z.string(), z.unknown()).optional(),
  manifest_yaml: z.string().max(1024 * 1024).optional(),
  module_base64: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional(),
}).strict().refine(
  (body) =>
    (body.manifest === undefined) !== (body.manifest_yaml === undefined),
  {
    message: "give exactly one of manifest and manifest_yaml",
  },
);

function summary(skill: RegisteredSkill): Record<string, unknown> {
  return {
    name: skill.name,
    version: skill.version,
    sha256: skill.sha256,
    description: skill.manifest.description,
    tags: skill.manifest.tags,
    owner: skill.manifest.owner,
    installed_at: new Date(skill.installed_at).toISOString(),
  };
}

function parseManifestValue(value: unknown) {
  const parsed = manifestSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AosError("VALIDATION_BODY_INVALID", "the manifest is not valid", {
    details: {
      issues: zodIssues(parsed.error).map((issue) => ({
        ...issue,
        pointer: `/manifest${issue.pointer}`,
      })),
    },
  });
}

function decodeBase64(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  } catch (error) {
    throw new AosError(
      "VALIDATION_BODY_INVALID",
      "module_base64 is not base64",
      {
        cause: error,
        details: {
          issues: [{ pointer: "/module_base64", message: "not base64" }],
        },
      },
    );
  }
}

/** An install request from JSON or multipart form data. */
async function readInstall(c: Context) {
  const type = c.req.header("content-type") ?? "";
  // The body is read (and bounded) once, whatever its encoding.
  const raw = await readBody(c, INSTALL_BODY_BYTES_MAX);
  if (type.startsWith("multipart/form-data")) {
    const form = await new Response(raw as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": type },
    }).formData();
    const manifestField = form.get("manifest");
    const moduleField = form.get("module");
    if (manifestField === null || !(moduleField instanceof File)) {
      throw new AosError(
        "VALIDATION_BODY_INVALID",
        "multipart installs need a manifest field and a module file",
        {
          details: {
            issues: [{
              pointer: manifestField === null ? "/manifest" : "/module",
              message: "required",
            }],
          },
        },
      );
    }
    const manifestText = typeof manifestField === "string"
      ? manifestField
      : await manifestField.text();
    const sha256 = form.get("sha256");
    return {
      manifest: parseManifestValue(parseYamlField(manifestText)),
      bytes: new Uint8Array(await moduleField.arrayBuffer()),
      ...(typeof sha256 === "string" ? { expectedSha256: sha256 } : {}),
    };
  }
  const json = parseWith(
    installJson,
    parseJsonText(new TextDecoder().decode(raw)),
    "body",
  );
  const manifest = parseManifestValue(
    json.manifest ?? parseYamlField(json.manifest_yaml!),
  );
  return {
    manifest,
    bytes: decodeBase64(json.module_base64),
    ...(json.sha256 === undefined ? {} : { expectedSha256: json.sha256 }),
  };
}

function parseYamlField(text: string): unknown {
  try {
    return parseYaml(text);
  } catch (error) {
    throw new AosError("VALIDATION_BODY_INVALID", "the manifest is not YAML", {
      cause: error,
      details: {
        issues: [{
          pointer: "/manifest",
          message: error instanceof Error ? error.message : String(error),
        }],
      },
    });
  }
}

/** The skill registry routes: list, look up, install (admin). */
export function addSkillRoutes(
  app: Hono,
  deps: {
    registry: SkillRegistry;
    nowMs: () => number;
  },
): void {
  const { registry } = deps;
  app.get(
    "/v1/skills",
    (c) => c.json({ skills: registry.list().map(summary) }),
  );

  app.get("/v1/skills/:name", (c) => {
    const versions = registry.versions(c.req.param("name"));
    if (versions.length === 0) throw skillNotFound(c.req.param("name"));
    return c.json({
      name: c.req.param("name"),
      versions: versions.map(summary),
    });
  });

  app.get("/v1/skills/:name/:version", (c) => {
    const reference = `${c.req.param("name")}@${c.req.param("version")}`;
    const skill = registry.find(reference);
    if (skill === undefined || skill.version !== c.req.param("version")) {
      throw skillNotFound(reference);
    }
    return c.json({ ...summary(skill), manifest: skill.manifest });
  });

  app.post("/v1/skills", async (c) => {
    requireAdmin(c);
    const request = await readInstall(c);
    const { skill, created } = await registry.install(request, {
      installedAt: deps.nowMs(),
    });
    return c.json({ ...summary(skill), created }, created ? 201 : 200);
  });
}

function skillNotFound(reference: string): AosError {
  return new AosError("SKILL_NOT_FOUND", `no skill ${reference} is installed`, {
    details: { skill: reference },
  });
}
