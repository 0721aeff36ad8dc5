// Dates and times of the event. Start and end are local date-times in the
// event's time zone (RFC 3339 `full-date "T" partial-time`, no offset and
// no fraction); DTSTAMP is the recorded host time in UTC.

/** A wall-clock time without a zone. */
export class LocalDateTime {
  constructor(
    public readonly year: i32,
    public readonly month: i32,
    public readonly day: i32,
    public readonly hour: i32,
    public readonly minute: i32,
    public readonly second: i32,
  ) {}

  /** `YYYY-MM-DDTHH:MM:SS`: sorts like the time it names. */
  iso(): string {
    return pad(this.year, 4) + "-" + pad(this.month, 2) + "-" + pad(this.day, 2) + "T" +
      pad(this.hour, 2) + ":" + pad(this.minute, 2) + ":" + pad(this.second, 2);
  }

  /** RFC 5545 DATE-TIME form, `YYYYMMDDTHHMMSS`. */
  compact(): string {
    return pad(this.year, 4) + pad(this.month, 2) + pad(this.day, 2) + "T" +
      pad(this.hour, 2) + pad(this.minute, 2) + pad(this.second, 2);
  }
}

/** The parsed value, or why the text is not a local date-time. */
export class ParsedDateTime {
  constructor(public readonly value: LocalDateTime | null, public readonly reason: string) {}
}

function pad(value: i32, width: i32): string {
  let text = value.toString();
  while (text.length < width) text = "0" + text;
  return text;
}

/** The decimal number in `text[start, start + count)`, or -1 when it is not all digits. */
function digitsAt(text: string, start: i32, count: i32): i32 {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x30 || unit > 0x39) return -1;
    value = value * 10 + (unit - 0x30);
  }
  return value;
}

function isLeapYear(year: i32): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/** Days in `month` (1-12) of `year`. */
export function daysInMonth(year: i32, month: i32): i32 {
  if (month == 2) return isLeapYear(year) ? 29 : 28;
  if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
  return 31;
}

function fail(reason: string): ParsedDateTime {
  return new ParsedDateTime(null, reason);
}

/** Parses `YYYY-MM-DDTHH:MM:SS` (a `t` is accepted for the `T`). */
export function parseLocalDateTime(text: string): ParsedDateTime {
  const form = "a local date-time YYYY-MM-DDTHH:MM:SS";
  if (text.length > 19) {
    const extra = text.charCodeAt(19);
    if (extra == 0x2e) return fail("fractions of a second are not supported; use " + form);
    return fail("has an offset or extra text; give " + form + " and the zone in time_zone");
  }
  if (text.length != 19) return fail("must be " + form);
  const separators = text.charAt(4) + text.charAt(7) + text.charAt(13) + text.charAt(16);
  const t = text.charCodeAt(10);
  if (separators != "--::" || (t != 0x54 && t != 0x74)) return fail("must be " + form);
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
    return fail("must be " + form);
  }
  if (year < 1) return fail("the year must be 0001 or later");
  if (month < 1 || month > 12) return fail("the month must be 01-12");
  if (day < 1 || day > daysInMonth(year, month)) return fail("the day does not exist in that month");
  if (hour > 23) return fail("the hour must be 00-23");
  if (minute > 59) return fail("the minute must be 00-59");
  if (second > 59) return fail("the second must be 00-59");
  return new ParsedDateTime(new LocalDateTime(year, month, day, hour, minute, second), "");
}

/** `ms` since the Unix epoch as an RFC 5545 UTC DATE-TIME, `YYYYMMDDTHHMMSSZ`. */
export function utcStamp(ms: i64): string {
  const msPerDay: i64 = 86_400_000;
  let days = ms / msPerDay;
  let rest = ms % msPerDay;
  if (rest < 0) {
    rest += msPerDay;
    days -= 1;
  }
  const secondsOfDay = <i32>(rest / 1000);
  // Howard Hinnant's civil_from_days: proleptic Gregorian from day 0 = 1970-01-01.
  const z = days + 719_468;
  const era = (z >= 0 ? z : z - 146_096) / 146_097;
  const dayOfEra = z - era * 146_097;
  const yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
  const dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const monthIndex = (5 * dayOfYear + 2) / 153;
  const day = <i32>(dayOfYear - (153 * monthIndex + 2) / 5 + 1);
  const month = <i32>(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9);
  const year = <i32>(yearOfEra + era * 400 + (month <= 2 ? 1 : 0));
  const time = new LocalDateTime(
    year,
    month,
    day,
    secondsOfDay / 3600,
    (secondsOfDay / 60) % 60,
    secondsOfDay % 60,
  );
  return time.compact() + "Z";
}
