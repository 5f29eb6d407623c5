/** Structured log lines: one record per event, JSON on the console unless the user routes them. */
import { fitRecord } from "./log-bounds.ts";
import type { LoggerOption, LogRecord } from "../types.ts";

export type Log = (record: LogRecord) => void;

const silent: Log = () => {};

/**
 * The same record for every logger: `time` (epoch ms, as pino writes it; a Date would cost Deno
 * 1.6 MiB on first use) first, then the event's fields, cut to a bounded size.
 */
function stamped(record: LogRecord, fields?: Record<string, unknown>): { record: LogRecord & { time: number }; json: string } {
  return fitRecord({ time: Date.now(), ...fields, ...record });
}

function jsonLine(record: LogRecord, fields?: Record<string, unknown>): void {
  const { json } = stamped(record, fields);
  // Deno's console throws when the write fails (a full disk: ENOSPC; /dev/full; EIO): that failed
  // the start at the `listening` line, crashed the drain, and left a failed request in flight for
  // ever. Output that cannot be written is lost either way; what logged must go on.
  try {
    if (record.level === "error") console.error(json);
    else console.log(json);
  } catch {
    // Nowhere left to say it.
  }
}

/**
 * Turns the `logger` option into one function. `fields` (a worker's pid) go into every record of
 * the default JSON lines and of a function logger; a console-like logger (pino) writes its own pid.
 */
export function toLog(option: LoggerOption | undefined, fields?: Record<string, unknown>): Log {
  if (option === undefined) return fields === undefined ? jsonLine : (record) => jsonLine(record, fields);
  if (option === false) return silent;
  if (typeof option === "function") return guarded((record) => option(stamped(record, fields).record), fields);
  // pino's (and bunyan's) call: `logger.info(fields, message)`. The logger writes its own level,
  // time and message (and pid, hostname, name), so the fields leave those out and no key appears
  // twice in its line. `console` prints the fields object, then the message.
  return guarded((record) => {
    const { level, time: _time, msg, ...fields } = stamped(record).record;
    option[level](fields, msg);
  }, fields);
}

/**
 * A user's logger that throws (a transport's hiccup) must not break what logs through it: the drain,
 * a start, a request's 500. The line goes out as the default JSON line instead, with why.
 */
function guarded(log: Log, fields: Record<string, unknown> | undefined): Log {
  return (record) => {
    try {
      log(record);
    } catch (error) {
      jsonLine({ ...record, loggerError: errorMessage(error) }, fields);
    }
  };
}

/**
 * The message of anything thrown. Never throws itself: a value that will not become a string (a
 * null-prototype object, a throwing `toString` or `message` getter) would otherwise break the
 * path that reports it (a request's 500, a task's failure, a part's stop).
 */
export function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message || error.name);
    return String(error);
  } catch {
    return `a value that cannot be shown as text (${typeof error})`;
  }
}

/** The stack of an Error, when it has one (the log line cuts it to fit). */
export function errorStack(error: unknown): string | undefined {
  try {
    return error instanceof Error && typeof error.stack === "string" ? error.stack : undefined;
  } catch {
    return undefined;
  }
}
