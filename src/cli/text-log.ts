/**
 * --log-format text: one readable line per event (`12:00:00.123 info  drain.start  drain started
 * (SIGTERM)`); with workers every process's lines carry its pid, shown after the level.
 */
import type { LogRecord } from "../types.ts";

export function textLine(record: LogRecord & { time?: number }): void {
  const time = new Date(record.time ?? Date.now()).toISOString().slice(11, 23);
  const pid = typeof record.pid === "number" ? `[${record.pid}] ` : "";
  const line = `${time} ${record.level.padEnd(5)} ${pid}${String(record.event ?? "").padEnd(14)} ${record.msg}`;
  if (record.level === "error") console.error(line);
  else console.log(line);
}
