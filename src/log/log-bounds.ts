/**
 * Log lines of bounded length. One error with a huge message or stack must not make a line of
 * megabytes, and a line must reach its reader whole: `workers` share the primary's stdout and
 * stderr, and a pipe keeps a write whole only up to PIPE_BUF (4,096 bytes on Linux). Longer lines
 * from two processes came out spliced into each other (an outside probe, `workers: 4`, 20,000-char
 * error messages piped to a reader: Bun 1,344 of 7,547 lines broken, Node 170 of 1,936; Bun writes
 * a line of 4,096 bytes or more as two writes even to a file). Every record is cut to
 * MAX_RECORD_BYTES of JSON before any logger sees it: strings are shortened first, longest first,
 * then (only if that is not enough) whole nested fields are dropped and named in `truncated`.
 */

/** The longest line a record may produce, newline and the fields a logger adds included: PIPE_BUF. */
export const MAX_LOG_LINE_BYTES = 4_096;

/**
 * What one record may take as JSON: 512 bytes less than a line, left for the fields another logger
 * adds (pino writes level, time, pid and the machine's hostname, about 60 bytes plus the name).
 */
export const MAX_RECORD_BYTES = 3_584;

/** Strings are never cut shorter than this while dropping nested fields would do instead. */
const MIN_STRING_CHARS = 64;

/**
 * The record (the same object when it already fits) and its JSON, at most `maxBytes` long in UTF-8.
 * Fields dropped to get there are named in `truncated`.
 */
export function fitRecord<T extends Record<string, unknown>>(
  record: T,
  maxBytes: number = MAX_RECORD_BYTES,
): { record: T & { truncated?: string }; json: string } {
  // A string longer than the whole line is cut before anything is serialized: a 10 MB message
  // made a 30 MB JSON text first (300-400 ms of a blocked event loop, measured).
  if (longestString(record) > maxBytes) record = clipStrings(record, maxBytes) as T;
  const json = JSON.stringify(record);
  if (fitsBytes(json, maxBytes)) return { record, json };
  const fits = (candidate: T) => {
    const text = JSON.stringify(candidate);
    return fitsBytes(text, maxBytes) ? text : undefined;
  };
  // Bisect the longest string length that still fits: long strings (stacks, messages) are cut,
  // short ones (event, level, counts) stay whole.
  let low = MIN_STRING_CHARS;
  let high = Math.min(longestString(record), maxBytes);
  let best: { record: T; json: string } | undefined;
  while (low <= high) {
    const cap = Math.floor((low + high) / 2);
    const candidate = clipStrings(record, cap) as T;
    const text = fits(candidate);
    if (text === undefined) high = cap - 1;
    else {
      best = { record: candidate, json: text };
      low = cap + 1;
    }
  }
  if (best !== undefined) return best;
  // Too many fields even with every string short (a lifecycle of thousands of parts): drop the
  // largest nested fields until it fits, and say which.
  const clipped = clipStrings(record, MIN_STRING_CHARS) as Record<string, unknown>;
  const nested = Object.keys(clipped)
    .filter((key) => typeof clipped[key] === "object" && clipped[key] !== null)
    .sort((a, b) => JSON.stringify(clipped[b]).length - JSON.stringify(clipped[a]).length);
  const dropped: string[] = [];
  for (const key of nested) {
    delete clipped[key];
    dropped.push(key);
    const candidate = { ...clipped, truncated: dropped.join(", ") } as unknown as T;
    const text = fits(candidate);
    if (text !== undefined) return { record: candidate, json: text };
  }
  // Only scalars left and still too long: keep what names the event.
  const minimal = {
    time: record.time,
    level: record.level,
    event: record.event,
    msg: clip(String(record.msg ?? ""), MIN_STRING_CHARS),
    truncated: "every other field",
  };
  return { record: minimal as unknown as T, json: JSON.stringify(minimal) };
}

/** `text` cut to at most `max` characters, saying how much was cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  // Never split a surrogate pair.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...[${text.length - end} more chars]`;
}

function clipStrings(value: unknown, cap: number): unknown {
  if (typeof value === "string") return clip(value, cap);
  if (Array.isArray(value)) return value.map((item) => clipStrings(item, cap));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = clipStrings(item, cap);
    return out;
  }
  return value;
}

function longestString(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (typeof value !== "object" || value === null) return 0;
  let longest = 0;
  for (const item of Array.isArray(value) ? value : Object.values(value)) longest = Math.max(longest, longestString(item));
  return longest;
}

/** Whether `text` takes at most `maxBytes` in UTF-8 (JSON.stringify never leaves a lone surrogate). */
export function fitsBytes(text: string, maxBytes: number): boolean {
  // One to three bytes per UTF-16 unit (a surrogate pair is four): most lines need no count.
  if (text.length * 3 <= maxBytes) return true;
  if (text.length > maxBytes) return false;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit <= 0xdfff ? 2 : 3;
  }
  return bytes <= maxBytes;
}
