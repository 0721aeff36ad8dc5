import { z } from "zod";
import { HOST_ABI_VERSION, pinLabel } from "../../actors/run_messages.ts";
import type { SkillPin } from "../../actors/run_messages.ts";
import {
  canonicalJson,
  type Json,
  type LogRecord,
  sha256Hex,
} from "../store/mod.ts";
import { DIVERGENCE_CLASSES, type ReplayReport } from "./divergence.ts";

/** Name and version of the certificate format. */
export const CERTIFICATE_FORMAT = "aos-replay-certificate/1" as const;

const certifiedLogSchema = z.object({
  source: z.string(),
  run_id: z.string(),
  records: z.number().int().min(0),
  digest: z.string(),
  verdict: z.enum(["identical", "diverged"]),
  class: z.enum(DIVERGENCE_CLASSES as [string, ...string[]]).nullable(),
  index: z.number().int().min(0).nullable(),
}).strict();

const certificateSchema = z.object({
  format: z.literal(CERTIFICATE_FORMAT),
  host_abi: z.number().int(),
  skills: z.array(z.string()),
  logs: z.array(certifiedLogSchema),
  verdict: z.enum(["identical", "diverged"]),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();

/** One replayed log as the certificate names it. */
export type CertifiedLog = z.infer<typeof certifiedLogSchema>;

/**
 * What a replay certifies: the modules (`name@version#sha256`) the logs
 * pin, the host ABI it ran, each log's digest (hash of its last record) with
 * its verdict, and `sha256`, the hash of the canonical JSON of all the other
 * fields. It holds no clock reading, so the same logs and skills always give
 * the same certificate, byte for byte.
 */
export type Certificate = z.infer<typeof certificateSchema>;

/** A replayed log: where it came from, its records and the verdict. */
export interface ReplayedLog {
  source: string;
  records: readonly LogRecord[];
  report: ReplayReport;
}

/** The certificate of a set of replayed logs. */
export function makeCertificate(logs: readonly ReplayedLog[]): Certificate {
  const skills = new Set(logs.flatMap((log) => pinnedSkills(log.records)));
  const body = {
    format: CERTIFICATE_FORMAT as typeof CERTIFICATE_FORMAT,
    host_abi: HOST_ABI_VERSION,
    skills: [...skills].sort(),
    logs: logs.map((log) => certifiedLog(log.source, log.report)),
    verdict: logs.every((log) => log.report.verdict === "identical")
      ? "identical" as const
      : "diverged" as const,
  };
  return { ...body, sha256: sha256Hex(canonicalJson(body as unknown as Json)) };
}

/** How a certificate names one replayed log. */
export function certifiedLog(
  source: string,
  report: ReplayReport,
): CertifiedLog {
  return {
    source,
    run_id: report.run_id,
    records: report.records,
    digest: report.digest,
    verdict: report.verdict,
    class: report.divergence?.class ?? null,
    index: report.divergence?.index ?? null,
  };
}

/** Every module a log pins, at submission or when a planner made its plan. */
export function pinnedSkills(records: readonly LogRecord[]): string[] {
  const labels: string[] = [];
  for (const record of records) {
    if (record.type !== "RunSubmitted" && record.type !== "PlanProduced") {
      continue;
    }
    const pins = (record.body.pins ?? {}) as unknown as Record<
      string,
      SkillPin
    >;
    for (const pin of Object.values(pins)) labels.push(pinLabel(pin));
  }
  return labels;
}

/**
 * Parses a certificate and checks its own hash. Returns the certificate and
 * the problems found (none when it is intact).
 */
export function readCertificate(
  text: string,
): { certificate: Certificate | undefined; problems: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      certificate: undefined,
      problems: [`not JSON: ${(error as Error).message}`],
    };
  }
  const parsed = certificateSchema.safeParse(value);
  if (!parsed.success) {
    return {
      certificate: undefined,
      problems: parsed.error.issues.map((issue) =>
        `/${issue.path.join("/")}: ${issue.message}`
      ),
    };
  }
  const { sha256, ...body } = parsed.data;
  const actual = sha256Hex(canonicalJson(body as unknown as Json));
  return {
    certificate: parsed.data,
    problems: actual === sha256
      ? []
      : [`its sha256 is ${sha256}, but its content hashes to ${actual}`],
  };
}

/**
 * Compares a certificate with a fresh replay of the logs it names (same
 * order). Returns the differences; none means the certificate still holds.
 */
export function compareCertificate(
  certificate: Certificate,
  replayed: readonly ReplayedLog[],
): string[] {
  const fresh = makeCertificate(replayed);
  const problems: string[] = [];
  if (certificate.host_abi !== fresh.host_abi) {
    problems.push(
      `host ABI ${certificate.host_abi} was certified; this host runs ${fresh.host_abi}`,
    );
  }
  if (canonicalJson(certificate.skills) !== canonicalJson(fresh.skills)) {
    problems.push(
      `the logs pin ${fresh.skills.join(", ")}; the certificate names ${
        certificate.skills.join(", ")
      }`,
    );
  }
  certificate.logs.forEach((certified, position) => {
    const now = fresh.logs[position];
    if (now === undefined) return;
    for (
      const field of [
        "run_id",
        "records",
        "digest",
        "verdict",
        "class",
        "index",
      ] as const
    ) {
      if (certified[field] !== now[field]) {
        problems.push(
          `${certified.source}: ${field} was ${certified[field]}, is now ${
            now[field]
          }`,
        );
      }
    }
  });
  if (certificate.verdict !== fresh.verdict) {
    problems.push(
      `the verdict was ${certificate.verdict}, is now ${fresh.verdict}`,
    );
  }
  return problems;
}
