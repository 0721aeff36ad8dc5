import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PROJECT_ROOT } from "../../src/skills/build.ts";

/** The alert rules file. */
export const ALERTS_FILE = join(
  PROJECT_ROOT,
  "ops",
  "prometheus_rules",
  "alerts.yml",
);

/** The Grafana dashboards folder. */
export const DASHBOARDS_DIR = join(PROJECT_ROOT, "ops", "grafana");

/** One alerting rule. */
export interface AlertRule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

/** The alert rules of `ops/prometheus_rules/alerts.yml`, by group. */
export function alertGroups(): { name: string; rules: AlertRule[] }[] {
  return (parseYaml(Deno.readTextFileSync(ALERTS_FILE)) as {
    groups: { name: string; rules: AlertRule[] }[];
  }).groups;
}

/** A Grafana dashboard as committed: title, uid and its panels' queries. */
export interface Dashboard {
  file: string;
  title: string;
  uid: string;
  /** Every PromQL expression of its panels (rows' panels included) and templating. */
  expressions: { panel: string; expr: string }[];
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every dashboard in `ops/grafana/`. */
export function dashboards(): Dashboard[] {
  return [...Deno.readDirSync(DASHBOARDS_DIR)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".json"))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const json = JSON.parse(
        Deno.readTextFileSync(join(DASHBOARDS_DIR, name)),
      ) as {
        title: string;
        uid: string;
        panels: Panel[];
        templating?: { list?: { name: string; query?: unknown }[] };
      };
      const expressions: { panel: string; expr: string }[] = [];
      const visit = (panel: Panel) => {
        for (const target of panel.targets ?? []) {
          if (target.expr !== undefined) {
            expressions.push({ panel: panel.title ?? "", expr: target.expr });
          }
        }
        for (const inner of panel.panels ?? []) visit(inner);
      };
      json.panels.forEach(visit);
      for (const variable of json.templating?.list ?? []) {
        const query = variable.query as { query?: string } | string | undefined;
        const text = typeof query === "string" ? query : query?.query;
        // Grafana's label_values(metric, label) names a metric selector.
        const selector = /^label_values\((.+),\s*\w+\)$/.exec(text ?? "");
        if (selector !== null) {
          expressions.push({ panel: `$${variable.name}`, expr: selector[1]! });
        }
      }
      return { file: name, title: json.title, uid: json.uid, expressions };
    });
}
