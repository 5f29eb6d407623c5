/** Structured log lines: one record per event, JSON on the console unless the user routes them. */
import type { LogRecord, LoggerOption } from "./types.ts";

export type Log = (record: LogRecord) => void;

const silent: Log = () => {};

function jsonLine(record: LogRecord): void {
  // Epoch milliseconds, as pino writes them; a Date would cost Deno 1.6 MiB on first use.
  const line = JSON.stringify({ time: Date.now(), ...record });
  if (record.level === "error") console.error(line);
  else console.log(line);
}

/** Turns the `logger` option into one function. */
export function toLog(option: LoggerOption | undefined): Log {
  if (option === undefined) return jsonLine;
  if (option === false) return silent;
  if (typeof option === "function") return option;
  return (record) => option[record.level](record);
}

/** The message of anything thrown, on one line. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
