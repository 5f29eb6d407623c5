/** --log-format text: one readable line per event (`12:00:00.123 info  drain.start  drain started (SIGTERM)`). */
import type { LogRecord } from "../types.ts";

export function textLine(record: LogRecord & { time?: number }): void {
  const time = new Date(record.time ?? Date.now()).toISOString().slice(11, 23);
  const line = `${time} ${record.level.padEnd(5)} ${String(record.event ?? "").padEnd(14)} ${record.msg}`;
  if (record.level === "error") console.error(line);
  else console.log(line);
}
