// Retry-After (RFC 9110 §10.2.3): delay-seconds, or an HTTP date, which
// recipients must accept in all three of its historical forms.

/** Delays are capped at this many seconds (about 31 years). */
const SECONDS_MAX: i64 = 999_999_999;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A parsed Retry-After value: a delay, a date, or neither. */
export class RetryAfter {
  constructor(
    /** The delay in milliseconds, or -1 when the value is not delay-seconds. */
    public readonly delayMs: i64,
    /** Milliseconds since the epoch of the date, or -1 when it is not a date. */
    public readonly dateMs: i64,
  ) {}

  get isDelay(): bool { return this.delayMs >= 0; }
  get isDate(): bool { return this.dateMs >= 0; }
}

/** Reads a Retry-After header value; neither form when it is malformed. */
export function parseRetryAfter(value: string): RetryAfter {
  const text = value.trim();
  if (text.length > 0 && isDigits(text)) {
    let seconds: i64 = 0;
    for (let i = 0; i < text.length && seconds <= SECONDS_MAX; i++) {
      seconds = seconds * 10 + <i64>(text.charCodeAt(i) - 0x30);
    }
    if (seconds > SECONDS_MAX) seconds = SECONDS_MAX;
    return new RetryAfter(seconds * 1000, -1);
  }
  return new RetryAfter(-1, parseHttpDate(text));
}

function isDigits(text: string): bool {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Milliseconds since the epoch of an HTTP date, or -1. Accepts IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37
 * GMT`) and asctime (`Sun Nov  6 08:49:37 1994`): in all three the day comes
 * before the year, so the first short number is the day.
 */
export function parseHttpDate(text: string): i64 {
  const tokens = text.replaceAll(",", " ").replaceAll("-", " ").split(" ");
  let month = -1;
  let day = -1;
  let year = -1;
  let seconds = -1;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.length == 0) continue;
    const monthIndex = MONTHS.indexOf(token);
    if (monthIndex >= 0) {
      month = monthIndex + 1;
    } else if (token.includes(":")) {
      seconds = timeOfDay(token);
      if (seconds < 0) return -1;
    } else if (isDigits(token)) {
      const number = I32.parseInt(token, 10);
      if (day < 0 && token.length <= 2) day = number;
      else if (year < 0 && (token.length == 2 || token.length == 4)) {
        // RFC 850's two-digit years: 70-99 are 1900s, the rest 2000s.
        year = token.length == 4 ? number : number >= 70 ? 1900 + number : 2000 + number;
      } else return -1;
    }
    // Anything else (the weekday, "GMT") carries no information.
  }
  if (month < 0 || day < 1 || day > 31 || year < 1970 || seconds < 0) return -1;
  return (daysFromCivil(year, month, day) * 86_400 + <i64>seconds) * 1000;
}

/** Seconds since midnight of `hh:mm:ss`, or -1. */
function timeOfDay(token: string): i32 {
  const parts = token.split(":");
  if (parts.length != 3) return -1;
  const limits: StaticArray<i32> = [23, 59, 60];
  let total = 0;
  for (let i = 0; i < 3; i++) {
    const part = parts[i];
    if (part.length != 2 || !isDigits(part)) return -1;
    const value = I32.parseInt(part, 10);
    if (value > limits[i]) return -1;
    total = total * 60 + value;
  }
  return total;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: i32, month: i32, day: i32): i64 {
  const y = <i64>(month <= 2 ? year - 1 : year);
  const era = (y >= 0 ? y : y - 399) / 400;
  const yearOfEra = y - era * 400;
  const dayOfYear = <i64>((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1);
  const dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
