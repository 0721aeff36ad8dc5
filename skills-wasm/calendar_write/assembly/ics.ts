// RFC 5545 text for one event: CRLF line ends, content lines folded at 75
// octets (never inside a UTF-8 sequence), TEXT values escaped.
import { CalendarEvent, Person } from "./event";

/** Longest content line, in octets, not counting the CRLF. */
export const LINE_OCTETS_MAX: i32 = 75;
const CRLF = "\r\n";

/** The product identifier written in every calendar. */
export const PRODUCT_ID = "-//AOS//calendar_write 1.0.1//EN";

/** `text` as an RFC 5545 TEXT value: `\`, `;`, `,` escaped, line breaks as `\n`. */
export function escapeText(text: string): string {
  const out = new Array<string>();
  let copiedTo = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    let escape: string | null = null;
    let skip = 0;
    if (unit == 0x5c) escape = "\\\\";
    else if (unit == 0x3b) escape = "\\;";
    else if (unit == 0x2c) escape = "\\,";
    else if (unit == 0x0a) escape = "\\n";
    else if (unit == 0x0d) {
      escape = "\\n";
      if (i + 1 < text.length && text.charCodeAt(i + 1) == 0x0a) skip = 1;
    }
    if (escape === null) continue;
    if (i > copiedTo) out.push(text.substring(copiedTo, i));
    out.push(escape!);
    i += skip;
    copiedTo = i + 1;
  }
  if (copiedTo < text.length) out.push(text.substring(copiedTo));
  return out.join("");
}

/** UTF-8 length of the code point starting at `text[i]`; `units` gets its UTF-16 length. */
function codePointOctets(text: string, i: i32, units: Array<i32>): i32 {
  const unit = text.charCodeAt(i);
  units[0] = 1;
  if (unit < 0x80) return 1;
  if (unit < 0x800) return 2;
  if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
    const next = text.charCodeAt(i + 1);
    if (next >= 0xdc00 && next <= 0xdfff) {
      units[0] = 2;
      return 4;
    }
  }
  return 3; // the rest of the BMP (a lone surrogate is encoded as U+FFFD, also 3)
}

/** `line` folded: no physical line longer than 75 octets; continuations start with a space. */
export function foldLine(line: string): string {
  const out = new Array<string>();
  const units: Array<i32> = [1];
  let octets = 0;
  let start = 0;
  let i = 0;
  while (i < line.length) {
    const size = codePointOctets(line, i, units);
    if (octets + size > LINE_OCTETS_MAX) {
      out.push(line.substring(start, i));
      out.push(CRLF + " ");
      start = i;
      octets = 1;
    }
    octets += size;
    i += units[0];
  }
  out.push(line.substring(start));
  return out.join("");
}

function personLine(property: string, person: Person): string {
  const name = person.name;
  // Quoted, so a name may hold ':', ';' and ','; quotes were refused earlier.
  const cn = name !== null ? ";CN=\"" + name + "\"" : "";
  return property + cn + ":mailto:" + person.email;
}

function timeLine(property: string, event: CalendarEvent, compact: string): string {
  if (event.isUtc()) return property + ":" + compact + "Z";
  return property + ";TZID=" + event.timeZone + ":" + compact;
}

/**
 * The VCALENDAR text of `event`. Times carry `TZID=<IANA name>` (UTC ones
 * end in `Z`); no VTIMEZONE is written, because the skill has no time zone
 * database: servers that know IANA names (Radicale, most CalDAV servers)
 * resolve them, as RFC 7809 time zones by reference allow.
 */
export function buildIcs(uid: string, event: CalendarEvent, dtstamp: string, sequence: i32): string {
  const lines = new Array<string>();
  lines.push("BEGIN:VCALENDAR");
  lines.push("VERSION:2.0");
  lines.push("PRODID:" + PRODUCT_ID);
  lines.push("CALSCALE:GREGORIAN");
  lines.push("BEGIN:VEVENT");
  lines.push("UID:" + uid);
  lines.push("DTSTAMP:" + dtstamp);
  lines.push("SEQUENCE:" + sequence.toString());
  lines.push(timeLine("DTSTART", event, event.start.compact()));
  lines.push(timeLine("DTEND", event, event.end.compact()));
  const recurrence = event.recurrence;
  if (recurrence !== null) lines.push("RRULE:" + recurrence);
  lines.push("SUMMARY:" + escapeText(event.title));
  const description = event.description;
  if (description !== null) lines.push("DESCRIPTION:" + escapeText(description));
  const location = event.location;
  if (location !== null) lines.push("LOCATION:" + escapeText(location));
  const organizer = event.organizer;
  if (organizer !== null) lines.push(personLine("ORGANIZER", organizer));
  for (let i = 0; i < event.attendees.length; i++) lines.push(personLine("ATTENDEE", event.attendees[i]));
  lines.push("END:VEVENT");
  lines.push("END:VCALENDAR");
  const out = new Array<string>();
  for (let i = 0; i < lines.length; i++) out.push(foldLine(lines[i]) + CRLF);
  return out.join("");
}

/**
 * The SEQUENCE of the first VEVENT in `ics`, or -1 when it has none. Folded
 * lines are joined first, as a reader must.
 */
export function sequenceOf(ics: string): i32 {
  const unfolded = ics.replaceAll("\r\n ", "").replaceAll("\r\n\t", "").replaceAll("\n ", "");
  const lines = unfolded.split("\n");
  let inEvent = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.substring(0, line.length - 1);
    const upper = line.toUpperCase();
    if (upper == "BEGIN:VEVENT") inEvent = true;
    else if (upper == "END:VEVENT") return -1;
    else if (inEvent && (upper.startsWith("SEQUENCE:") || upper.startsWith("SEQUENCE;"))) {
      const value = line.substring(line.indexOf(":") + 1).trim();
      let number = 0;
      if (value.length == 0 || value.length > 9) return -1;
      for (let j = 0; j < value.length; j++) {
        const unit = value.charCodeAt(j);
        if (unit < 0x30 || unit > 0x39) return -1;
        number = number * 10 + (unit - 0x30);
      }
      return number;
    }
  }
  return -1;
}
