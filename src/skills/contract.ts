/**
 * Skill contracts (docs/contracts.md): parsing `contract.yaml` and running
 * its test cases against a module through the real sandbox.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import type { HostCallPort, StepOutcome } from "../../actors/run_ports.ts";
import type { HostCallBody, SkillPin } from "../../actors/run_messages.ts";
import {
  type Clock,
  type RandomSource,
  SeededRandom,
  SimulatedClock,
} from "../deps/mod.ts";
import type {
  HttpGateway,
  SandboxLimits,
  SkillModule,
} from "../sandbox/mod.ts";
import { Sandbox } from "../sandbox/mod.ts";
import { canonicalJson, type Json, sha256Hex } from "../store/mod.ts";
import {
  describeMismatch,
  firstDifference,
  firstSubsetMismatch,
  shorten,
} from "./_json_compare.ts";
import {
  type ContractCase,
  contractSchema,
  type SkillContract,
} from "./_contract_schema.ts";

export {
  type ContractCase,
  contractSchema,
  type SkillContract,
} from "./_contract_schema.ts";

/** `aos_now` answers this in a case that sets no `host.now_ms`. */
export const CASE_NOW_MS_DEFAULT = 1_700_000_000_000;
/** `aos_random` draws from `SeededRandom(this)` in a case that sets no seed. */
export const CASE_RANDOM_SEED_DEFAULT = 1;

/** A contract that cannot be used: bad YAML, a bad field, or another skill's. */
export class ContractError extends Error {
  /** One line per problem, each naming its field (`test_cases[2].expect`). */
  readonly issues: readonly string[];

  constructor(source: string, issues: readonly string[], cause?: unknown) {
    super(
      `${source}: invalid contract:\n${
        issues.map((issue) => `  - ${issue}`).join("\n")
      }`,
      cause === undefined ? {} : { cause },
    );
    this.name = "ContractError";
    this.issues = issues;
  }
}

/**
 * Parses contract YAML; throws a ContractError naming every bad field.
 * `source` names the file in messages.
 *
 * @example
 * ```ts
 * const contract = parseContract(await Deno.readTextFile("contract.yaml"), "contract.yaml");
 * ```
 */
export function parseContract(
  text: string,
  source = "contract",
): SkillContract {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ContractError(source, [`not valid YAML: ${reason}`], error);
  }
  const parsed = contractSchema.safeParse(document);
  if (parsed.success) return parsed.data;
  throw new ContractError(
    source,
    parsed.error.issues.map((issue) =>
      `${fieldPath(issue.path)}: ${
        issue.message.replace(
          /^Invalid input: expected (\w+), received undefined$/,
          "required (a $1)",
        )
      }`
    ),
    parsed.error,
  );
}

/** Reads and parses a contract file. */
export async function readContract(path: string): Promise<SkillContract> {
  return parseContract(await Deno.readTextFile(path), path);
}

function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(the document)";
  return path.map((key, index) =>
    typeof key === "number"
      ? `[${key}]`
      : `${index === 0 ? "" : "."}${String(key)}`
  ).join("");
}

/** How one test case went. */
export interface CaseResult {
  name: string;
  pass: boolean;
  /** Why it passed or failed, in one line. */
  reason: string;
  /** What the sandbox returned. */
  outcome: StepOutcome;
  /** The host calls the skill made (time, randomness, HTTP), in order. */
  hostCalls: HostCallBody[];
  /** Wall-clock time of the call, including loading the module the first time. */
  durationMs: number;
}

/** Options of `runContract`. */
export interface RunContractOptions {
  /** Host ceilings (the manifest's timeout and memory are capped by them). */
  limits?: Partial<SandboxLimits>;
  /** Outbound HTTP for skills granted `http`; without it their requests fail. */
  http?: HttpGateway;
}

/**
 * Runs every test case of `contract` against the module through a real
 * `Sandbox` and judges each outcome. Cases run in order on one instance,
 * reused between calls as in production; each case gets fresh host answers
 * (`SimulatedClock(host.now_ms)`, `SeededRandom(host.random_seed)`), so a
 * case's host calls do not depend on the cases before it. The sandbox
 * checks params and output against the manifest's schemas, so a case whose
 * input breaks `input_schema` expects `VALIDATION_INPUT_SCHEMA`. Throws a
 * ContractError when the contract describes another skill or version.
 *
 * @example
 * ```ts
 * const results = await runContract(contract, { bytes, manifest });
 * if (!contractTestCasesPassed(results)) console.log(results.filter((r) => !r.pass));
 * ```
 */
export async function runContract(
  contract: SkillContract,
  module: SkillModule,
  options: RunContractOptions = {},
): Promise<CaseResult[]> {
  const { manifest } = module;
  if (
    contract.skill !== manifest.name || contract.version !== manifest.version
  ) {
    throw new ContractError("contract", [
      `skill/version: the contract describes ${contract.skill}@${contract.version}, ` +
      `but the manifest is ${manifest.name}@${manifest.version}`,
    ]);
  }
  const host = new CaseHost();
  const sandbox = new Sandbox({
    modules: { module: () => Promise.resolve(module) },
    clock: host.clock,
    random: host.random,
    poolSizeMax: 1,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.http === undefined ? {} : { http: options.http }),
  });
  const pin: SkillPin = {
    name: manifest.name,
    version: manifest.version,
    sha256: sha256Hex(module.bytes),
    entrypoint: manifest.entrypoint,
    timeout_ms: manifest.timeout_ms,
  };
  try {
    const results: CaseResult[] = [];
    for (const [index, testCase] of contract.test_cases.entries()) {
      host.reset(testCase.host);
      const hostCalls: HostCallBody[] = [];
      const port: HostCallPort = {
        recorded: [],
        persist: (call) => Promise.resolve(void hostCalls.push(call)),
      };
      const started = performance.now();
      const outcome = await sandbox.execute({
        run_id: `contract_${manifest.name}`,
        step: `case_${index + 1}`,
        attempt: 1,
        pin,
        input: testCase.input as Json,
        hostCalls: port,
      });
      const durationMs = Math.round(performance.now() - started);
      let verdict = judge(testCase, outcome);
      if (verdict.pass) verdict = purity(contract, hostCalls) ?? verdict;
      results.push({
        name: testCase.name,
        pass: verdict.pass,
        reason: verdict.reason,
        outcome,
        hostCalls,
        durationMs,
      });
    }
    return results;
  } finally {
    await sandbox.close();
  }
}

/** True when there are results and every case passed. */
export function contractTestCasesPassed(
  results: readonly CaseResult[],
): boolean {
  return results.length > 0 && results.every((result) => result.pass);
}

/** Host answers that restart for each case; the sandbox sees one clock and one source. */
class CaseHost {
  #clock = new SimulatedClock(CASE_NOW_MS_DEFAULT);
  #random = new SeededRandom(CASE_RANDOM_SEED_DEFAULT);

  readonly clock: Clock = {
    nowMs: () => this.#clock.nowMs(),
    delay: (delayMs) => this.#clock.delay(delayMs),
  };
  readonly random: RandomSource = {
    bytes: (count) => this.#random.bytes(count),
  };

  reset(host: ContractCase["host"]): void {
    this.#clock = new SimulatedClock(host?.now_ms ?? CASE_NOW_MS_DEFAULT);
    this.#random = new SeededRandom(
      host?.random_seed ?? CASE_RANDOM_SEED_DEFAULT,
    );
  }
}

type Verdict = { pass: boolean; reason: string };
/** Whether `outcome` is what the case expects, and why. */
function judge(
  testCase: ContractCase,
  outcome: StepOutcome,
): Verdict {
  const { expect } = testCase;
  if (expect.error !== undefined) {
    if (outcome.ok) {
      return fail(
        `expected error ${expect.error.code}, but the skill returned ${
          shorten(canonicalJson(outcome.output))
        }`,
      );
    }
    const { error } = outcome;
    const reported = error.details.reported_code;
    if (error.code !== expect.error.code && reported !== expect.error.code) {
      const shown = typeof reported === "string"
        ? `${error.code} (reported ${reported})`
        : error.code;
      return fail(
        `expected error ${expect.error.code}, got ${shown}: ${error.message}`,
      );
    }
    const mismatch = expect.error.details_subset === undefined
      ? undefined
      : firstSubsetMismatch(expect.error.details_subset, error.details);
    if (mismatch !== undefined) {
      return fail(`error details differ ${describeMismatch(mismatch)}`);
    }
    return {
      pass: true,
      reason: `failed with ${expect.error.code} as expected`,
    };
  }
  if (!outcome.ok) {
    return fail(
      `expected output, but the skill failed with ${outcome.error.code}: ${outcome.error.message}`,
    );
  }
  const mismatch = expect.output !== undefined
    ? firstDifference(expect.output, outcome.output)
    : firstSubsetMismatch(expect.output_subset, outcome.output);
  if (mismatch !== undefined) {
    return fail(`output differs ${describeMismatch(mismatch)}`);
  }
  const how = expect.output !== undefined ? "equals" : "contains";
  return { pass: true, reason: `output ${how} the expected value` };
}

/** A passing case of a `pure` contract must not have asked the host anything. */
function purity(
  contract: SkillContract,
  hostCalls: HostCallBody[],
): Verdict | undefined {
  if (contract.determinism === "pure" && hostCalls.length > 0) {
    const kinds = [...new Set(hostCalls.map((call) => call.kind))].join(", ");
    return fail(
      `the contract says determinism: pure, but the skill made host calls (${kinds})`,
    );
  }
  return undefined;
}

function fail(reason: string): Verdict {
  return { pass: false, reason };
}
