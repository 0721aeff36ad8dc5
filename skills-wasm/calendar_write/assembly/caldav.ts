// The CalDAV provider: one `.ics` resource per event in a calendar
// collection, written with PUT through the host's guarded, recorded HTTP.
// The password never reaches the skill: the Authorization header carries
// `{{secret:CALDAV_BASIC}}`, which the host replaces with the secret (the
// base64 of `user:password`) only for the live request.
import { httpJson } from "../../_lib/http";
import { JsonNumber, JsonObject, JsonValue, stringify } from "../../_lib/json";
import { answerObject, Calendar, Current, isTrue, Written } from "./calendar";
import { nonNegative } from "./event";
import { AUTH, INVALID_EVENT, NOT_FOUND, Problem, PROVIDER, stringOf } from "./problem";

/** The Authorization header value; the host resolves the reference. */
export const AUTHORIZATION = "Basic {{secret:CALDAV_BASIC}}";
/** Per-request limit; a write makes at most two requests. */
const REQUEST_TIMEOUT_MS: i64 = 10_000;
/** Characters of a server's error body kept in details. */
const BODY_EXCERPT_CHARS: i32 = 300;

/** Host refusals that say the step is misconfigured; retrying cannot help. */
const PASSED_THROUGH = [
  "HTTP_URL_INVALID",
  "HTTP_ADDRESS_FORBIDDEN",
  "HTTP_HOST_NOT_ALLOWED",
  "HTTP_EXTERNAL_DISABLED",
  "HTTP_SECRET_UNKNOWN",
];

class Response {
  constructor(
    public readonly status: i32,
    public readonly etag: string | null,
    public readonly body: string,
    public readonly problem: Problem | null,
  ) {}
}

function objectOf(value: JsonValue | null): JsonObject {
  return value !== null && value.isObject() ? value.asObject() : new JsonObject();
}

/** The host's refusal to make the request (policy or transport). */
function hostProblem(error: JsonObject): Problem {
  const codeText = stringOf(error.get("code"));
  const code = codeText !== null ? codeText! : "";
  const messageText = stringOf(error.get("message"));
  const message = messageText !== null ? messageText! : "the request failed";
  if (PASSED_THROUGH.includes(code)) return new Problem(code, message, objectOf(error.get("details")));
  const details = new JsonObject().setString("cause_code", code).setString("cause_message", message)
    .setString("provider", "caldav");
  return new Problem(PROVIDER, "the CalDAV server could not be reached: " + message, details);
}

function send(method: string, url: string, headers: JsonObject, body: string | null): Response {
  headers.setString("authorization", AUTHORIZATION);
  const request = new JsonObject()
    .setString("method", method)
    .setString("url", url)
    .set("headers", headers)
    .set("timeout_ms", JsonNumber.fromI64(REQUEST_TIMEOUT_MS));
  if (body !== null) request.setString("body", body!);
  const answer = answerObject(Uint8Array.wrap(String.UTF8.encode(httpJson(stringify(request)))));
  if (answer === null) {
    const details = new JsonObject().setString("provider", "caldav");
    return new Response(0, null, "", new Problem(PROVIDER, "the host answered no JSON object", details));
  }
  if (!isTrue(answer.get("ok"))) return new Response(0, null, "", hostProblem(objectOf(answer.get("error"))));
  const statusValue = answer.get("status");
  const status = statusValue !== null && statusValue.isNumber() ? nonNegative(statusValue.asNumber().lexeme) : -1;
  const responseHeaders = objectOf(answer.get("headers"));
  const encoding = stringOf(answer.get("body_encoding"));
  const text = stringOf(answer.get("body"));
  const utf8 = encoding === null || encoding! == "utf8";
  return new Response(status, stringOf(responseHeaders.get("etag")), utf8 && text !== null ? text! : "", null);
}

/** What an unexpected status means for the step. */
function statusProblem(response: Response, method: string, url: string): Problem {
  const status = response.status;
  const excerpt = response.body.length > BODY_EXCERPT_CHARS
    ? response.body.substring(0, BODY_EXCERPT_CHARS)
    : response.body;
  const details = new JsonObject()
    .setString("method", method)
    .setString("provider", "caldav")
    .set("status", JsonNumber.fromI64(status))
    .setString("url", url)
    .setString("body", excerpt);
  const what = method + " " + url + " answered " + status.toString();
  if (status == 401 || status == 403) {
    return new Problem(AUTH, what + ": the server refused the credentials in CALDAV_BASIC", details);
  }
  if (status == 409 && response.body.includes("no-uid-conflict")) {
    return new Problem(INVALID_EVENT, what + ": another resource of the collection has this UID", details);
  }
  if (status == 404 || status == 409 || status == 410) {
    return new Problem(NOT_FOUND, what + ": the calendar collection does not exist", details);
  }
  if (status == 400 || status == 415 || status == 422) {
    return new Problem(INVALID_EVENT, what + ": the server refused the event", details);
  }
  return new Problem(PROVIDER, what, details);
}

function isSuccess(status: i32): bool {
  return status >= 200 && status <= 299;
}

function calendarHeaders(): JsonObject {
  return new JsonObject().setString("content-type", "text/calendar; charset=utf-8");
}

/** A CalDAV calendar collection, by URL. */
export class CalDavCalendar extends Calendar {
  constructor(private readonly collectionUrl: string) {
    super();
  }

  private url(uid: string): string {
    const slash = this.collectionUrl.endsWith("/") ? "" : "/";
    return this.collectionUrl + slash + uid + ".ics";
  }

  read(uid: string): Current {
    const url = this.url(uid);
    const response = send("GET", url, new JsonObject(), null);
    if (response.problem !== null) return Current.failed(response.problem!);
    if (response.status == 404 || response.status == 410) return new Current(false, null, "", null);
    if (!isSuccess(response.status)) return Current.failed(statusProblem(response, "GET", url));
    return new Current(true, response.etag, response.body, null);
  }

  /**
   * `If-None-Match: *` first, so `created` is known. A 412 means the UID is
   * already there (typically this same step, re-run after a crash); the
   * event is then written again without the condition, which replaces it
   * with the same content: one event, never two.
   */
  create(uid: string, ics: string, _event: JsonObject): Written {
    const url = this.url(uid);
    const first = send("PUT", url, calendarHeaders().setString("if-none-match", "*"), ics);
    if (first.problem !== null) return Written.failed(first.problem!);
    if (isSuccess(first.status)) return new Written(true, first.etag, null);
    if (first.status != 412) return Written.failed(statusProblem(first, "PUT", url));
    const again = send("PUT", url, calendarHeaders(), ics);
    if (again.problem !== null) return Written.failed(again.problem!);
    if (isSuccess(again.status)) return new Written(false, again.etag, null);
    return Written.failed(statusProblem(again, "PUT", url));
  }

  update(uid: string, ics: string, _event: JsonObject, ifMatch: string | null): Written {
    const url = this.url(uid);
    const headers = calendarHeaders();
    if (ifMatch !== null) headers.setString("if-match", ifMatch!);
    const response = send("PUT", url, headers, ics);
    if (response.problem !== null) return Written.failed(response.problem!);
    if (isSuccess(response.status)) return new Written(false, response.etag, null);
    if (response.status == 412) {
      const details = new JsonObject()
        .setString("provider", "caldav")
        .setString("reason", "etag_mismatch")
        .setString("url", url);
      return Written.failed(
        new Problem(NOT_FOUND, "the event changed or was deleted since the etag was read", details),
      );
    }
    return Written.failed(statusProblem(response, "PUT", url));
  }
}
