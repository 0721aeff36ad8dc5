import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { alertGroups, ALERTS_FILE as RULES } from "../support/ops_files.ts";

const RULES_DIR = join(PROJECT_ROOT, "ops", "prometheus_rules");
const TESTS_DIR = join(RULES_DIR, "tests");
const RUNBOOKS = join(PROJECT_ROOT, "ops", "runbooks");
const GROUPS = [
  "determinism",
  "cost",
  "performance",
  "errors",
  "infrastructure",
  "sandbox",
];

function promtoolPath(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = join(dir, "promtool");
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

const promtool = promtoolPath();
// Skipped only on a developer machine without promtool; CI (which sets CI)
// installs it, and there a missing promtool fails the tests.
const skipPromtool = promtool === undefined && Deno.env.get("CI") === undefined;
if (skipPromtool) {
  console.warn(
    "promtool is not installed: the promtool checks of ops/prometheus_rules are skipped here (apt-get install prometheus; CI installs it)",
  );
}

async function runPromtool(args: string[]): Promise<string> {
  assert.ok(promtool !== undefined, "promtool is not installed");
  const output = await new Deno.Command(promtool, {
    args,
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `promtool ${args.join(" ")}:\n${text}`);
  return text;
}

function testFiles(): string[] {
  return [...Deno.readDirSync(TESTS_DIR)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".yml"))
    .map((entry) => join(TESTS_DIR, entry.name))
    .sort();
}

Deno.test({
  name: "promtool accepts the alert rules",
  ignore: skipPromtool,
  async fn() {
    const text = await runPromtool(["check", "rules", RULES]);
    const count = alertGroups().flatMap((group) => group.rules).length;
    assert.match(text, new RegExp(`SUCCESS: ${count} rules found`));
  },
});

Deno.test({
  name: "promtool rule unit tests pass",
  ignore: skipPromtool,
  async fn() {
    const text = await runPromtool(["test", "rules", ...testFiles()]);
    assert.doesNotMatch(text, /FAILED/);
  },
});

Deno.test("alert groups are the six the operators page on", () => {
  assert.deepEqual(alertGroups().map((group) => group.name), GROUPS);
  for (const group of alertGroups()) assert.ok(group.rules.length > 0);
});

Deno.test("every alert links a runbook that says what it means and what to do", () => {
  for (const rule of alertGroups().flatMap((group) => group.rules)) {
    assert.equal(
      rule.annotations.runbook_url,
      `ops/runbooks/${rule.alert}.md`,
      rule.alert,
    );
    const text = Deno.readTextFileSync(join(RUNBOOKS, `${rule.alert}.md`));
    assert.match(text, new RegExp(`^# ${rule.alert}\\n`), rule.alert);
    assert.match(text, /\n## What it means\n/, rule.alert);
    assert.match(text, /\n## What to do\n/, rule.alert);
    assert.ok(rule.annotations.summary, `${rule.alert} has a summary`);
  }
  const alerts = new Set(
    alertGroups().flatMap((group) => group.rules).map((rule) => rule.alert),
  );
  for (const entry of Deno.readDirSync(RUNBOOKS)) {
    assert.ok(
      alerts.has(entry.name.replace(/\.md$/, "")),
      `runbook ${entry.name} has no alert`,
    );
  }
});

Deno.test("every alert has a unit test where it fires and one where it does not", () => {
  const fires = new Set<string>();
  const quiet = new Set<string>();
  for (const file of testFiles()) {
    const suite = parseYaml(Deno.readTextFileSync(file)) as {
      tests: {
        alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
      }[];
    };
    for (const test of suite.tests) {
      for (const check of test.alert_rule_test ?? []) {
        (check.exp_alerts.length > 0 ? fires : quiet).add(check.alertname);
      }
    }
  }
  for (const rule of alertGroups().flatMap((group) => group.rules)) {
    assert.ok(fires.has(rule.alert), `${rule.alert} is never shown firing`);
    assert.ok(quiet.has(rule.alert), `${rule.alert} is never shown quiet`);
  }
});
