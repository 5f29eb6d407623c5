/** The end of a drain that crashed (a bug in this library): said, flushed like a report, exit 1. */
import type { Clock } from "../time/clock.ts";
import * as events from "../log/events.ts";
import { type Flush, FLUSH_MAX_MS, flushWithin } from "../log/flush.ts";
import type { Log } from "../log/logger.ts";

/** Logs the crash, gives an asynchronous logger the time it gets for a report to write it, then exits 1. */
export async function endAfterCrash(
  error: unknown,
  log: Log,
  clock: Clock,
  flush: Flush | undefined,
  runtime: { exit(code: number): void },
): Promise<void> {
  log(events.drainCrashed(error));
  await flushWithin(clock, flush, FLUSH_MAX_MS);
  runtime.exit(1);
}
