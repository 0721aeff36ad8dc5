// The mock provider: the host's in-memory calendar behind `aos_calendar`.
import { calendarCall } from "../../_lib/calendar";
import { JsonObject, JsonValue, stringify } from "../../_lib/json";
import { answerObject, Calendar, Current, isTrue, Written } from "./calendar";
import { NOT_FOUND, Problem, PROVIDER, stringOf } from "./problem";

class Answer {
  constructor(public readonly body: JsonObject | null, public readonly problem: Problem | null) {}
}

/** The calendar service's refusal as this skill reports it. */
function serviceProblem(error: JsonValue | null): Problem {
  const object = error !== null && error.isObject() ? error.asObject() : new JsonObject();
  const codeText = stringOf(object.get("code"));
  const code = codeText !== null ? codeText! : "";
  const messageText = stringOf(object.get("message"));
  const message = messageText !== null ? messageText! : "the calendar service failed";
  const detailsValue = object.get("details");
  const details = detailsValue !== null && detailsValue.isObject() ? detailsValue.asObject() : new JsonObject();
  if (code.startsWith("ERR_CALENDAR_")) return new Problem(code, message, details);
  const cause = new JsonObject().setString("cause_code", code).setString("cause_message", message)
    .setString("provider", "mock");
  const service = stringOf(details.get("service"));
  if (code == "HOST_CALL_INVALID" && service !== null && service! == "calendar") {
    // No calendar service on this host: the calendar does not exist here,
    // and retrying cannot make it appear.
    return new Problem(NOT_FOUND, "this host has no mock calendar service", cause);
  }
  return new Problem(PROVIDER, "the mock calendar failed: " + message, cause);
}

function call(request: JsonObject): Answer {
  const body = answerObject(calendarCall(stringify(request)));
  if (body === null) {
    const details = new JsonObject().setString("provider", "mock");
    return new Answer(null, new Problem(PROVIDER, "the calendar service answered no JSON object", details));
  }
  if (!isTrue(body.get("ok"))) return new Answer(null, serviceProblem(body.get("error")));
  return new Answer(body, null);
}

/** A calendar of the host's mock calendar service, by name. */
export class MockCalendar extends Calendar {
  constructor(private readonly name: string) {
    super();
  }

  private request(op: string, uid: string): JsonObject {
    return new JsonObject().setString("op", op).setString("calendar", this.name).setString("uid", uid);
  }

  read(uid: string): Current {
    const answer = call(this.request("get", uid));
    if (answer.problem !== null) return Current.failed(answer.problem!);
    const body = answer.body!;
    if (!isTrue(body.get("found"))) return new Current(false, null, "", null);
    const ics = stringOf(body.get("ics"));
    return new Current(true, stringOf(body.get("etag")), ics !== null ? ics! : "", null);
  }

  create(uid: string, ics: string, event: JsonObject): Written {
    return this.put(this.request("put", uid).setString("ics", ics).set("event", event));
  }

  update(uid: string, ics: string, event: JsonObject, ifMatch: string | null): Written {
    const request = this.request("put", uid).setString("ics", ics).set("event", event);
    if (ifMatch !== null) request.setString("if_match", ifMatch!);
    return this.put(request);
  }

  private put(request: JsonObject): Written {
    const answer = call(request);
    if (answer.problem !== null) return Written.failed(answer.problem!);
    const body = answer.body!;
    return new Written(isTrue(body.get("created")), stringOf(body.get("etag")), null);
  }
}
