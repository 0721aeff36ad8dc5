import { parse as parseYaml } from "yaml";
import { z } from "zod";

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** The schema of a skill's `manifest.yaml`. */
export const manifestSchema = z.object({
  name: z.string().regex(
    /^[a-z0-9_.-]{1,64}$/,
    "lowercase letters, digits, _ . -",
  ),
  version: z.string().regex(SEMVER, "a semantic version such as 1.2.3"),
  description: z.string().max(2000).default(""),
  entrypoint: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/).default("run"),
  input_schema: z.record(z.string(), z.unknown()),
  output_schema: z.record(z.string(), z.unknown()),
  timeout_ms: z.number().int().min(1).max(300_000).default(5_000),
  memory_mb: z.number().int().min(1).max(4096).default(16),
  /**
   * The retry policy of a step of this skill that has none of its own (see
   * `skillPin`): the bounds of a plan step's `retry`. An empty `retry_on`
   * means the codes the catalog marks retryable.
   */
  retry: z.object({
    max_attempts: z.number().int().min(1).max(100),
    backoff_ms: z.number().int().min(0).max(86_400_000),
    retry_on: z.array(z.string().regex(/^[A-Z][A-Z0-9_]+$/)).default([]),
  }).strict().optional(),
  permissions: z.array(z.string()).default([]),
  allowed_hosts: z.array(z.string()).default([]),
  cost_estimate_cents: z.number().int().min(0).default(0),
  side_effects: z.string().default("none"),
  tags: z.array(z.string()).default([]),
  owner: z.string().default("unknown"),
  default_config: z.record(z.string(), z.unknown()).optional(),
}).strict();

/** A validated skill manifest. */
export type SkillManifest = z.infer<typeof manifestSchema>;

/** Parses manifest YAML text; throws a ZodError naming the bad fields. */
export function parseManifest(text: string): SkillManifest {
  return manifestSchema.parse(parseYaml(text));
}

/** Orders semantic versions (pre-releases before their release). */
export function compareSemver(left: string, right: string): number {
  const parse = (version: string) => {
    const [core, pre] = version.split("+")[0]!.split(/-(.*)/s);
    return { parts: core!.split(".").map(Number), pre: pre ?? null };
  };
  const a = parse(left);
  const b = parse(right);
  for (let index = 0; index < 3; index++) {
    const difference = a.parts[index]! - b.parts[index]!;
    if (difference !== 0) return difference;
  }
  if (a.pre === b.pre) return 0;
  if (a.pre === null) return 1;
  if (b.pre === null) return -1;
  return a.pre < b.pre ? -1 : 1;
}
