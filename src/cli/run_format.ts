import { formatTable } from "./table.ts";

// Terminal renderings of runs and records. Scripts use `--json` instead;
// these only have to be readable.

type View = Record<string, unknown>;

function text(value: unknown): string {
  if (value === null || value === undefined) return "-";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function clip(value: string, limit = 60): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

/** A run view (`GET /v1/runs/:id`) as a header and a table of steps. */
export function formatRunView(view: View): string {
  const error = view.error as { code?: string; message?: string } | null;
  const header = [
    `run       ${text(view.run_id)}`,
    `status    ${text(view.status)}${
      error === null || error === undefined
        ? ""
        : `  ${error.code}: ${error.message}`
    }`,
    `submitted ${text(view.submitted_at)}`,
    `finished  ${text(view.finished_at)}`,
    `cost      ${text(view.cost_cents)} cents`,
    `digest    ${text(view.digest)}`,
  ];
  const steps = (view.steps ?? []) as View[];
  const table = formatTable(
    ["step", "status", "skill", "attempts", "ms", "result"],
    steps.map((step) => {
      const stepError = step.error as { code?: string } | null;
      return [
        text(step.id),
        text(step.status),
        text(step.skill),
        text(step.attempts),
        text(step.latency_ms),
        clip(
          stepError !== null && stepError !== undefined
            ? String(stepError.code)
            : text(step.output),
        ),
      ];
    }),
  );
  return `${header.join("\n")}\n\n${table}`;
}

/** What a record is about, in a few words. */
function recordDetail(record: View): string {
  const body = (record.body ?? {}) as View;
  const parts: string[] = [];
  if (typeof body.step === "string") parts.push(`step ${body.step}`);
  if (typeof body.attempt === "number") parts.push(`attempt ${body.attempt}`);
  const error = body.error as { code?: string } | undefined;
  if (error?.code !== undefined) parts.push(error.code);
  if (typeof body.kind === "string") parts.push(body.kind);
  if (typeof body.reason === "string") parts.push(clip(body.reason, 40));
  if (typeof body.timer_id === "string") parts.push(`timer ${body.timer_id}`);
  return parts.join("  ");
}

/** Log records as a table: seq, time, type, detail. */
export function formatRecords(records: readonly View[]): string {
  return formatTable(
    ["seq", "at", "type", "detail"],
    records.map((record) => [
      text(record.seq),
      typeof record.at === "number" ? new Date(record.at).toISOString() : "-",
      text(record.type),
      recordDetail(record),
    ]),
  );
}

/** One record as a line (for `--follow`, where no table can be aligned). */
export function formatRecordLine(record: View): string {
  const at = typeof record.at === "number"
    ? new Date(record.at).toISOString()
    : "-";
  return `${text(record.seq).padStart(4)}  ${at}  ${
    text(record.type).padEnd(16)
  }  ${recordDetail(record)}`.trimEnd();
}

/** A page of runs (`GET /v1/runs`) as a table. */
export function formatRunList(runs: readonly View[]): string {
  return formatTable(
    ["run", "status", "created", "updated", "records"],
    runs.map((run) => [
      text(run.run_id),
      text(run.status),
      typeof run.created_at === "number"
        ? new Date(run.created_at).toISOString()
        : "-",
      typeof run.updated_at === "number"
        ? new Date(run.updated_at).toISOString()
        : "-",
      typeof run.last_seq === "number" ? String(run.last_seq + 1) : "-",
    ]),
  );
}
