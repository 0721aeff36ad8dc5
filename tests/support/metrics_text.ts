/**
 * Samples of a Prometheus text exposition, keyed by series:
 * `name{label="value",…}` with labels sorted, or `name` alone.
 */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const { name, labels, rest } = splitSeries(line);
    const value = Number(rest.trim().split(/\s+/)[0]);
    samples.set(seriesKey(name, labels), value);
  }
  return samples;
}

/** The key `parseExposition` uses for a series. */
export function seriesKey(
  name: string,
  labels: Record<string, string> = {},
): string {
  const parts = Object.keys(labels).sort().map((key) =>
    `${key}=${JSON.stringify(labels[key])}`
  );
  return parts.length === 0 ? name : `${name}{${parts.join(",")}}`;
}

/** Metric family names present in an exposition (from its `# TYPE` lines). */
export function exportedFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (match !== null) families.set(match[1]!, match[2]!);
  }
  return families;
}

/**
 * The series whose value changed from `before` to `after` (a series absent
 * before counts from 0), with the change; series matching `ignore` are left
 * out.
 */
export function changedSeries(
  before: Map<string, number>,
  after: Map<string, number>,
  ignore: (key: string) => boolean = () => false,
): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [key, value] of after) {
    if (ignore(key)) continue;
    const delta = value - (before.get(key) ?? 0);
    if (delta !== 0) changed[key] = delta;
  }
  return changed;
}

function splitSeries(
  line: string,
): { name: string; labels: Record<string, string>; rest: string } {
  const brace = line.indexOf("{");
  const space = line.indexOf(" ");
  if (brace < 0 || (space >= 0 && space < brace)) {
    return { name: line.slice(0, space), labels: {}, rest: line.slice(space) };
  }
  const name = line.slice(0, brace);
  const labels: Record<string, string> = {};
  let index = brace + 1;
  while (line[index] !== "}") {
    const equals = line.indexOf("=", index);
    const key = line.slice(index, equals);
    let value = "";
    index = equals + 2; // past ="
    while (line[index] !== '"') {
      if (line[index] === "\\") {
        const escaped = line[index + 1];
        value += escaped === "n" ? "\n" : escaped;
        index += 2;
      } else {
        value += line[index];
        index++;
      }
    }
    labels[key] = value;
    index++; // past the closing quote
    if (line[index] === ",") index++;
  }
  return { name, labels, rest: line.slice(index + 1) };
}
