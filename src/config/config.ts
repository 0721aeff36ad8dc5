import { parseArgs } from "node:util";
import { z } from "zod";
import type { LogLevel } from "../deps/mod.ts";

/** Configuration of an `aos serve` process. */
export interface NodeConfig {
  /** TCP port of the API (0 picks a free one). */
  port: number;
  /** Address the API binds to; loopback unless told otherwise. */
  host: string;
  /** Folder of the embedded store. */
  dataDir: string;
  logLevel: LogLevel;
  /** Skill folders registered at start besides the built-in `skills-wasm/`. */
  extraSkillDirs: string[];
  /** Worker threads per skill module. */
  poolSizeMax: number;
}

const configSchema = z.object({
  port: z.coerce.number().int().min(0).max(65_535),
  host: z.string().min(1),
  dataDir: z.string().min(1),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  extraSkillDirs: z.array(z.string().min(1)),
  poolSizeMax: z.coerce.number().int().min(1).max(64),
});

/** Defaults of every setting. */
export const DEFAULT_CONFIG: NodeConfig = {
  port: 8080,
  host: "127.0.0.1",
  dataDir: "./data",
  logLevel: "info",
  extraSkillDirs: [],
  poolSizeMax: 2,
};

/**
 * Reads the node's configuration: flags win over environment variables,
 * which win over defaults. `--port`/`AOS_PORT`, `--host`/`AOS_HOST`,
 * `--data`/`AOS_DATA_DIR`, `--log-level`/`AOS_LOG_LEVEL`,
 * `--skills-dir` (repeatable)/`AOS_SKILL_DIRS` (`:`-separated),
 * `--pool-size`/`AOS_POOL_SIZE`. Throws a readable error on a bad value.
 */
export function loadNodeConfig(
  args: string[],
  env: Record<string, string | undefined>,
): NodeConfig {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      "log-level": { type: "string" },
      "skills-dir": { type: "string", multiple: true },
      "pool-size": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const skillDirs = values["skills-dir"] ??
    (env.AOS_SKILL_DIRS
      ? env.AOS_SKILL_DIRS.split(":").filter((dir) => dir.length > 0)
      : undefined);
  const result = configSchema.safeParse({
    port: values.port ?? env.AOS_PORT ?? DEFAULT_CONFIG.port,
    host: values.host ?? env.AOS_HOST ?? DEFAULT_CONFIG.host,
    dataDir: values.data ?? env.AOS_DATA_DIR ?? DEFAULT_CONFIG.dataDir,
    logLevel: values["log-level"] ?? env.AOS_LOG_LEVEL ??
      DEFAULT_CONFIG.logLevel,
    extraSkillDirs: skillDirs ?? DEFAULT_CONFIG.extraSkillDirs,
    poolSizeMax: values["pool-size"] ?? env.AOS_POOL_SIZE ??
      DEFAULT_CONFIG.poolSizeMax,
  });
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      `${issue.path.join(".")}: ${issue.message}`
    );
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  return result.data;
}
