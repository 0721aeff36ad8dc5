/**
 * Which statements `aos_sql` runs: one data statement per call. The text is
 * scanned (quotes, dollar quotes, comments) so a `;` or a keyword inside them
 * does not count.
 *
 * @module
 */
import { invalid } from "./_sql_request.ts";

const STATEMENTS_ALLOWED = new Set([
  "select",
  "with",
  "values",
  "table",
  "show",
  "explain",
  "insert",
  "update",
  "delete",
  "merge",
]);

/**
 * Throws ERR_SQL_INVALID_QUERY unless `text` is one statement of an allowed
 * kind. Scans quotes ('…', E'…', "…", $tag$…$tag$) and comments (--, nested
 * /* *\/) so a `;` or keyword inside them does not count.
 */
export function checkStatement(text: string): void {
  if (text.includes("\u0000")) {
    throw invalid("sql", "the statement may not contain a NUL character");
  }
  let keyword: string | undefined;
  let index = 0;
  let ended = -1; // where a top-level ';' was seen
  while (index < text.length) {
    const next = skipNonCode(text, index);
    if (next !== index) {
      index = next;
      continue;
    }
    const char = text[index]!;
    if (ended >= 0 && !/\s/.test(char)) {
      throw invalid(
        "sql",
        "only one statement per call: remove what follows ';'",
        {
          reason: "multiple_statements",
          position: ended + 1,
        },
      );
    }
    if (char === ";") ended = index;
    if (keyword === undefined && /[A-Za-z]/.test(char)) {
      keyword = /^[A-Za-z_]+/.exec(text.slice(index))![0].toLowerCase();
    } else if (keyword === undefined && char !== "(" && !/\s/.test(char)) {
      keyword = char;
    }
    index++;
  }
  if (keyword === undefined || !STATEMENTS_ALLOWED.has(keyword)) {
    throw invalid(
      "sql",
      `statements of kind "${
        keyword ?? "(empty)"
      }" are not allowed; use one of ${
        [...STATEMENTS_ALLOWED].join(", ").toUpperCase()
      }`,
      { reason: "statement_not_allowed", keyword: keyword ?? null },
    );
  }
}

/** The index after the quoted string or comment at `index`, or `index`. */
function skipNonCode(text: string, index: number): number {
  const char = text[index]!;
  const after = text[index + 1];
  if (char === "-" && after === "-") {
    const end = text.indexOf("\n", index);
    return end < 0 ? text.length : end + 1;
  }
  if (char === "/" && after === "*") return skipBlockComment(text, index);
  if (char === "'") {
    const previous = text[index - 1];
    const escapes = (previous === "E" || previous === "e") &&
      !/[\w$]/.test(text[index - 2] ?? "");
    return skipQuoted(text, index, "'", escapes);
  }
  if (char === '"') return skipQuoted(text, index, '"', false);
  if (char === "$" && !/[\w$]/.test(text[index - 1] ?? "")) {
    const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(text.slice(index));
    if (tag !== null) {
      const end = text.indexOf(tag[0], index + tag[0].length);
      if (end < 0) throw invalid("sql", "unterminated dollar-quoted string");
      return end + tag[0].length;
    }
  }
  return index;
}

function skipQuoted(
  text: string,
  index: number,
  quote: string,
  escapes: boolean,
): number {
  let position = index + 1;
  while (position < text.length) {
    const char = text[position]!;
    if (escapes && char === "\\") {
      position += 2;
      continue;
    }
    if (char === quote) {
      if (text[position + 1] !== quote) return position + 1;
      position += 2;
      continue;
    }
    position++;
  }
  throw invalid(
    "sql",
    `unterminated ${quote === "'" ? "string" : "quoted identifier"}`,
  );
}

function skipBlockComment(text: string, index: number): number {
  let depth = 0;
  let position = index;
  while (position < text.length) {
    if (text.startsWith("/*", position)) {
      depth++;
      position += 2;
    } else if (text.startsWith("*/", position)) {
      depth--;
      position += 2;
      if (depth === 0) return position;
    } else {
      position++;
    }
  }
  throw invalid("sql", "unterminated comment");
}
