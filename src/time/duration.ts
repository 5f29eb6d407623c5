/**
 * Durations a user passes in milliseconds, checked in one place: every runtime stores a timer's
 * delay as a signed 32-bit integer, so a longer one fires after 1 ms instead (Node warns with
 * TimeoutOverflowWarning, Bun and Deno say nothing). A drain deadline that fires at once would cut
 * every request, so a duration above the limit, Infinity included, is a TypeError instead.
 */
import { invalid } from "../check/input.ts";

/** The longest timer delay the runtimes honour: 2^31 - 1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface DurationRule {
  /** Reject 0 too (a hook timeout of 0 could never succeed). @default false */
  positive?: boolean;
}

/**
 * Checks one duration option: `undefined` gives `fallback`; anything other than a finite number of
 * ms from 0 (or above 0, when `positive`) to MAX_TIMER_MS is a TypeError that names the option.
 * `owner` starts the message: `serveGracefully`, `lifecycle.add("db")`.
 */
export function durationMs(owner: string, option: string, value: unknown, fallback: number, rule: DurationRule = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || (rule.positive ? value <= 0 : value < 0)) {
    invalid(owner, option, `a ${rule.positive ? "positive" : "non-negative"} number of ms`, value);
  }
  if (value > MAX_TIMER_MS) {
    invalid(owner, option, `at most ${MAX_TIMER_MS} ms (2^31 - 1, the longest timer runtimes support; a longer one fires at once)`, value);
  }
  return value;
}
