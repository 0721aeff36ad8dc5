// The contract file's schema (docs/contracts.md), validated with zod so a
// bad contract is refused with the path of every bad field.
import { z } from "zod";
import { canonicalJson } from "../store/mod.ts";

const jsonValue = z.unknown().superRefine((value, context) => {
  if (value === undefined) {
    context.addIssue({ code: "custom", message: "required" });
    return;
  }
  try {
    canonicalJson(value);
  } catch (error) {
    context.addIssue({
      code: "custom",
      message: `not JSON (${error instanceof Error ? error.message : error})`,
    });
  }
});

const expectSchema = z.object({
  output: jsonValue.optional(),
  output_subset: jsonValue.optional(),
  error: z.object({
    code: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "an error code like SKILL_X"),
    details_subset: z.record(z.string(), jsonValue).optional(),
  }).strict().optional(),
}).strict().superRefine((expect, context) => {
  const given = ["output", "output_subset", "error"].filter((key) =>
    Object.hasOwn(expect, key) &&
    expect[key as keyof typeof expect] !== undefined
  );
  if (given.length !== 1) {
    context.addIssue({
      code: "custom",
      message: `exactly one of output, output_subset or error (got ${
        given.length === 0 ? "none" : given.join(", ")
      })`,
    });
  }
});

const testCaseSchema = z.object({
  name: z.string().min(1).max(200),
  input: jsonValue,
  host: z.object({
    now_ms: z.number().int().min(0).optional(),
    random_seed: z.number().int().optional(),
  }).strict().optional(),
  expect: expectSchema,
}).strict();

/** The schema of a contract file (docs/contracts.md). */
export const contractSchema = z.object({
  skill: z.string().min(1),
  version: z.string({ error: 'a string such as "1.0.0" (quote it)' })
    .min(1),
  summary: z.string().min(1),
  determinism: z.enum(["pure", "recorded", "external"]),
  cost_model: z.union([z.string().min(1), z.record(z.string(), z.unknown())])
    .optional(),
  constraints: z.array(z.string()).default([]),
  failure_modes: z.array(
    z.object({ code: z.string().min(1), when: z.string().min(1) }).strict(),
  ).default([]),
  test_cases: z.array(testCaseSchema).min(1, "at least one test case"),
}).strict().superRefine((contract, context) => {
  const names = new Set<string>();
  const codes = new Set(contract.failure_modes.map((mode) => mode.code));
  contract.test_cases.forEach((testCase, index) => {
    if (names.has(testCase.name)) {
      context.addIssue({
        code: "custom",
        path: ["test_cases", index, "name"],
        message: `"${testCase.name}" is used by an earlier case`,
      });
    }
    names.add(testCase.name);
    const code = testCase.expect.error?.code;
    if (code !== undefined && !codes.has(code)) {
      context.addIssue({
        code: "custom",
        path: ["test_cases", index, "expect", "error", "code"],
        message: `${code} is not listed in failure_modes`,
      });
    }
  });
});

/** A validated contract. */
export type SkillContract = z.infer<typeof contractSchema>;
/** One of a contract's test cases. */
export type ContractCase = SkillContract["test_cases"][number];
