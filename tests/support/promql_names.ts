// Words of PromQL that are never metric names: binary and set operators,
// modifiers, aggregations (which may be followed by `by (...)` rather than
// a parenthesis), and number literals.
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "atan2",
  "inf",
  "nan",
  "start",
  "end",
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
// Followed by a parenthesised list of label names, not of expressions.
const LABEL_LISTS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
]);
const IDENTIFIER_START = /[a-zA-Z_:]/;
const IDENTIFIER_PART = /[a-zA-Z0-9_:]/;

/**
 * The metric names a PromQL expression selects: identifiers that are not
 * functions, keywords, label names (in matchers and grouping lists) or parts
 * of strings, ranges and numbers, plus `{__name__="…"}` selectors. Grafana
 * variables (`$__rate_interval`, `$instance`) may appear in ranges and
 * strings.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  let index = 0;
  const at = () => expr[index] ?? "";
  const skipSpace = () => {
    while (/\s/.test(at())) index++;
  };
  const readString = (): string => {
    const quote = at();
    index++;
    let value = "";
    while (index < expr.length && at() !== quote) {
      if (at() === "\\" && quote !== "`") index++;
      value += at();
      index++;
    }
    index++;
    return value;
  };
  const readIdentifier = (): string => {
    const start = index;
    while (IDENTIFIER_PART.test(at())) index++;
    return expr.slice(start, index);
  };
  const skipParenthesised = () => {
    skipSpace();
    if (at() !== "(") return;
    while (index < expr.length && at() !== ")") index++;
    index++;
  };
  const readMatchers = () => {
    index++; // {
    while (index < expr.length && at() !== "}") {
      skipSpace();
      if (at() === "," || at() === "}") {
        if (at() === ",") index++;
        continue;
      }
      const label = readIdentifier();
      skipSpace();
      while ("=!~".includes(at()) && at() !== "") index++;
      skipSpace();
      const value = /["'`]/.test(at()) ? readString() : "";
      if (label === "__name__") names.add(value);
      if (label === "") index++;
    }
    index++; // }
  };
  while (index < expr.length) {
    const char = at();
    if (/["'`]/.test(char)) {
      readString();
    } else if (char === "[") {
      while (index < expr.length && at() !== "]") index++;
      index++;
    } else if (char === "{") {
      readMatchers();
    } else if (char === "#") {
      while (index < expr.length && at() !== "\n") index++;
    } else if (/[0-9.]/.test(char)) {
      while (/[0-9a-zA-Z_.+-]/.test(at()) && !/[+-]/.test(at())) index++;
      // exponents: 1e+9
      if (/[eE]/.test(expr[index - 1] ?? "") && /[+-]/.test(at())) {
        index++;
        while (/[0-9]/.test(at())) index++;
      }
    } else if (IDENTIFIER_START.test(char)) {
      const word = readIdentifier();
      const lower = word.toLowerCase();
      skipSpace();
      if (LABEL_LISTS.has(lower)) skipParenthesised();
      else if (KEYWORDS.has(lower)) continue;
      else if (at() === "(") continue; // a function call
      else names.add(word);
    } else {
      index++;
    }
  }
  return [...names].sort();
}

/**
 * True when `name` is a series of an exported family: the family itself, or
 * a histogram's or summary's `_bucket`, `_sum` and `_count` series.
 */
export function isExported(
  name: string,
  families: ReadonlyMap<string, string>,
): boolean {
  if (families.has(name)) return true;
  const match = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (match === null) return false;
  const type = families.get(match[1]!);
  if (type === "histogram") return true;
  return type === "summary" && match[2] !== "bucket";
}
