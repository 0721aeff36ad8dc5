/**
 * A status line on stderr for `--wait` and `--follow`: rewritten in place on
 * a terminal, one line a change otherwise (logs and tests read those).
 */
export class ProgressLine {
  readonly #tty: boolean;
  readonly #encoder = new TextEncoder();
  #last = "";

  constructor(tty = Deno.stderr.isTerminal()) {
    this.#tty = tty;
  }

  /** Shows `text` unless it is what is shown already. */
  update(text: string): void {
    if (text === this.#last) return;
    this.#last = text;
    this.#write(this.#tty ? `\r\x1b[K${text}` : `${text}\n`);
  }

  /** Ends the line so that later output starts on a line of its own. */
  done(): void {
    if (this.#tty && this.#last !== "") this.#write("\n");
    this.#last = "";
  }

  #write(text: string): void {
    Deno.stderr.writeSync(this.#encoder.encode(text));
  }
}

/** `running  2/5 steps done  12.3s`, the progress of a run view. */
export function describeProgress(
  view: {
    run_id?: unknown;
    status?: unknown;
    steps?: unknown;
    duration_ms?: unknown;
  },
  elapsedMs: number,
): string {
  const steps = Array.isArray(view.steps)
    ? view.steps as { status?: string }[]
    : [];
  const done =
    steps.filter((step) =>
      ["succeeded", "failed", "skipped", "cancelled"].includes(
        String(step.status),
      )
    ).length;
  const running = steps.filter((step) => step.status === "running").length;
  return [
    String(view.run_id ?? ""),
    String(view.status ?? "unknown"),
    `${done}/${steps.length} steps done`,
    ...(running > 0 ? [`${running} running`] : []),
    `${(elapsedMs / 1000).toFixed(1)}s`,
  ].join("  ");
}
