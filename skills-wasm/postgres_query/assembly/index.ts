// postgres_query: runs one parameterised SQL statement against a datasource
// the host configures, through the recorded aos_sql service, and returns
// its columns and rows. The host holds the credentials, runs the statement
// read-only (this skill is granted `sql`, not `sql:write`) and records the
// answer, so replay needs no database. Input and output: see manifest.yaml.
import { fail, readInputBytes, writeOutput } from "../../_lib/abi";
import { JsonBool, JsonKind, JsonObject, JsonString, JsonValue, parseJson, stringify } from "../../_lib/json";
import { sqlAnswerBytes } from "../../_lib/sql";
import { parseParams } from "./params";

const INVALID_QUERY = "ERR_SQL_INVALID_QUERY";
const DATASOURCE_UNKNOWN = "ERR_SQL_DATASOURCE_UNKNOWN";
const SQL_ERROR = "ERR_SQL_ERROR";
// What the sql service reports, passed through with its message and details.
const SERVICE_CODES = [
  "ERR_SQL_CONFLICT",
  "ERR_SQL_CONNECTION",
  "ERR_SQL_DATASOURCE_UNKNOWN",
  "ERR_SQL_ERROR",
  "ERR_SQL_INVALID_QUERY",
  "ERR_SQL_READ_ONLY",
  "ERR_SQL_TIMEOUT",
];

/** The entrypoint named in manifest.yaml. */
export function run(): i32 {
  const parsed = parseJson(readInputBytes());
  if (!parsed.ok) {
    const details = new JsonObject().setString("field", "params").setString("reason", parsed.error);
    return fail(INVALID_QUERY, "params are not valid JSON: " + parsed.error, stringify(details));
  }
  const checked = parseParams(parsed.value!);
  if (checked.problem !== null) {
    const problem = checked.problem!;
    const details = new JsonObject().setString("expected", problem.expected).setString("field", problem.field);
    return fail(INVALID_QUERY, "param '" + problem.field + "' must be " + problem.expected, stringify(details));
  }
  const params = checked.params!;
  const answer = parseJson(sqlAnswerBytes(params.requestJson()));
  if (!answer.ok) return malformed(params.datasource, "could not be read: " + answer.error);
  if (!answer.value!.isObject()) return malformed(params.datasource, "is not a JSON object");
  const body = answer.value!.asObject();
  const ok = body.get("ok");
  if (ok === null || ok.kind != JsonKind.Bool) return malformed(params.datasource, "has no ok member");
  if (!changetype<JsonBool>(ok).value) return refused(params.datasource, body.get("error"));
  return succeed(params.datasource, body);
}

/** The answer's rows as the step's output: canonical JSON, members as the manifest lists them. */
function succeed(datasource: string, body: JsonObject): i32 {
  const columns = body.get("columns");
  const rows = body.get("rows");
  const rowCount = body.get("row_count");
  const truncated = body.get("truncated");
  const command = body.get("command");
  if (columns === null || !columns.isArray()) return malformed(datasource, "has no columns");
  if (rows === null || !rows.isArray()) return malformed(datasource, "has no rows");
  if (rowCount === null || !rowCount.isNumber()) return malformed(datasource, "has no row_count");
  if (truncated === null || truncated.kind != JsonKind.Bool) return malformed(datasource, "has no truncated");
  if (command === null || !(command.isString() || command.kind == JsonKind.Null)) {
    return malformed(datasource, "has no command");
  }
  const output = new JsonObject()
    .set("columns", columns)
    .set("command", command)
    .setString("datasource", datasource)
    .set("row_count", rowCount)
    .set("rows", rows)
    .set("truncated", truncated);
  writeOutput(stringify(output));
  return 0;
}

function stringOf(value: JsonValue | null): string | null {
  return value !== null && value.isString() ? value.asString().value : null;
}

/** The service's `{code, message, details}` as this skill reports it. */
function refused(datasource: string, error: JsonValue | null): i32 {
  const object = error !== null && error.isObject() ? error.asObject() : new JsonObject();
  const codeText = stringOf(object.get("code"));
  const code = codeText !== null ? codeText! : "";
  const messageText = stringOf(object.get("message"));
  const message = messageText !== null ? messageText! : "the sql service failed";
  const detailsValue = object.get("details");
  const details = detailsValue !== null && detailsValue.isObject() ? detailsValue.asObject() : new JsonObject();
  if (SERVICE_CODES.includes(code)) {
    if (!details.has("datasource")) details.set("datasource", new JsonString(datasource));
    return fail(code, message, stringify(details));
  }
  const cause = new JsonObject()
    .setString("cause_code", code)
    .setString("cause_message", message)
    .setString("datasource", datasource);
  const service = stringOf(details.get("service"));
  if (code == "HOST_CALL_INVALID" && service !== null && service! == "sql") {
    // No sql service on this host: no datasource exists here, and retrying
    // cannot make one appear.
    return fail(
      DATASOURCE_UNKNOWN,
      "datasource \"" + datasource + "\" is not configured: this host offers no sql service",
      stringify(cause),
    );
  }
  return fail(SQL_ERROR, "the sql service failed: " + message, stringify(cause));
}

function malformed(datasource: string, what: string): i32 {
  const details = new JsonObject().setString("datasource", datasource);
  return fail(SQL_ERROR, "the host's sql answer " + what, stringify(details));
}
