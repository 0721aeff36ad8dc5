// The grammar of an RFC 5545 RRULE value (section 3.3.10), e.g.
// `FREQ=WEEKLY;COUNT=4;BYDAY=MO,WE`. The skill writes the rule as given, so
// it must be right as given: names in upper case, no `RRULE:` prefix.
import { daysInMonth } from "./datetime";

/** Longest recurrence rule accepted, in characters. */
export const RRULE_CHARS_MAX: i32 = 500;

const FREQUENCIES = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"];
const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const PART_NAMES = [
  "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
  "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST",
];

/** The unsigned decimal in `text`, or -1 unless it is 1-`digitsMax` digits. */
function unsigned(text: string, digitsMax: i32): i32 {
  if (text.length == 0 || text.length > digitsMax) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x30 || unit > 0x39) return -1;
    value = value * 10 + (unit - 0x30);
  }
  return value;
}

/** Whether every comma-separated item is an integer in [low, high], signed if `signed`. */
function numberList(value: string, low: i32, high: i32, signed: bool): bool {
  const items = value.split(",");
  for (let i = 0; i < items.length; i++) {
    let item = items[i];
    const sign = item.length > 0 ? item.charCodeAt(0) : 0;
    if (sign == 0x2b || sign == 0x2d) {
      if (!signed) return false;
      item = item.substring(1);
    }
    const number = unsigned(item, 3);
    if (number < low || number > high) return false;
  }
  return true;
}

/** Whether `value` is a BYDAY list; `ordinals` is set when any day has a number. */
function weekdayList(value: string, ordinals: Array<bool>): bool {
  const items = value.split(",");
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item.length < 2) return false;
    const day = item.substring(item.length - 2);
    if (!WEEKDAYS.includes(day)) return false;
    let prefix = item.substring(0, item.length - 2);
    if (prefix.length == 0) continue;
    ordinals[0] = true;
    const sign = prefix.charCodeAt(0);
    if (sign == 0x2b || sign == 0x2d) prefix = prefix.substring(1);
    const number = unsigned(prefix, 2);
    if (number < 1 || number > 53) return false;
  }
  return true;
}

/** Whether `value` is a UTC DATE-TIME `YYYYMMDDTHHMMSSZ` naming a real time. */
function utcDateTime(value: string): bool {
  if (value.length != 16 || value.charAt(8) != "T" || value.charAt(15) != "Z") return false;
  const year = unsigned(value.substring(0, 4), 4);
  const month = unsigned(value.substring(4, 6), 2);
  const day = unsigned(value.substring(6, 8), 2);
  const hour = unsigned(value.substring(9, 11), 2);
  const minute = unsigned(value.substring(11, 13), 2);
  const second = unsigned(value.substring(13, 15), 2);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  if (day > daysInMonth(year, month)) return false;
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

/** Why `name=value` is wrong, or "" when it is right. */
function checkPart(name: string, value: string, ordinals: Array<bool>): string {
  if (name == "FREQ") {
    return FREQUENCIES.includes(value) ? "" : "FREQ must be one of " + FREQUENCIES.join(", ");
  }
  if (name == "UNTIL") {
    return utcDateTime(value) ? "" : "UNTIL must be a UTC date-time YYYYMMDDTHHMMSSZ";
  }
  if (name == "COUNT" || name == "INTERVAL") {
    return unsigned(value, 9) >= 1 ? "" : name + " must be a positive integer";
  }
  if (name == "WKST") return WEEKDAYS.includes(value) ? "" : "WKST must be a weekday (MO, TU, ...)";
  if (name == "BYDAY") {
    return weekdayList(value, ordinals) ? "" : "BYDAY must list weekdays like MO, -1FR or 2TU";
  }
  let ok = false;
  if (name == "BYSECOND") ok = numberList(value, 0, 60, false);
  else if (name == "BYMINUTE") ok = numberList(value, 0, 59, false);
  else if (name == "BYHOUR") ok = numberList(value, 0, 23, false);
  else if (name == "BYMONTHDAY") ok = numberList(value, 1, 31, true);
  else if (name == "BYYEARDAY") ok = numberList(value, 1, 366, true);
  else if (name == "BYWEEKNO") ok = numberList(value, 1, 53, true);
  else if (name == "BYMONTH") ok = numberList(value, 1, 12, false);
  else if (name == "BYSETPOS") ok = numberList(value, 1, 366, true);
  return ok ? "" : name + " has a value out of range";
}

/** Why `rule` is not a valid RRULE value, or "" when it is. */
export function rruleProblem(rule: string): string {
  if (rule.length == 0) return "is empty";
  if (rule.length > RRULE_CHARS_MAX) return "is longer than " + RRULE_CHARS_MAX.toString() + " characters";
  if (rule.startsWith("RRULE:")) return "give the value only, without 'RRULE:'";
  const seen = new Array<string>();
  const values = new Map<string, string>();
  const ordinals: Array<bool> = [false];
  const parts = rule.split(";");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const equals = part.indexOf("=");
    if (equals <= 0) return "'" + part + "' is not NAME=VALUE";
    const name = part.substring(0, equals);
    const value = part.substring(equals + 1);
    if (!PART_NAMES.includes(name)) return "unknown rule part '" + name + "' (names are upper case)";
    if (seen.includes(name)) return name + " is given twice";
    if (value.length == 0) return name + " has no value";
    seen.push(name);
    values.set(name, value);
    const problem = checkPart(name, value, ordinals);
    if (problem.length > 0) return problem;
  }
  if (!values.has("FREQ")) return "FREQ is required";
  if (values.has("UNTIL") && values.has("COUNT")) return "UNTIL and COUNT exclude each other";
  const frequency = values.get("FREQ");
  if (values.has("BYWEEKNO") && frequency != "YEARLY") return "BYWEEKNO needs FREQ=YEARLY";
  if (values.has("BYMONTHDAY") && frequency == "WEEKLY") return "BYMONTHDAY is not allowed with FREQ=WEEKLY";
  if (
    values.has("BYYEARDAY") &&
    (frequency == "DAILY" || frequency == "WEEKLY" || frequency == "MONTHLY")
  ) {
    return "BYYEARDAY is not allowed with FREQ=" + frequency;
  }
  if (ordinals[0] && frequency != "MONTHLY" && frequency != "YEARLY") {
    return "numbered BYDAY values (like 2MO) need FREQ=MONTHLY or FREQ=YEARLY";
  }
  if (values.has("BYSETPOS")) {
    let others = 0;
    for (let i = 0; i < seen.length; i++) {
      if (seen[i].startsWith("BY") && seen[i] != "BYSETPOS") others++;
    }
    if (others == 0) return "BYSETPOS needs another BYxxx rule part";
  }
  return "";
}
