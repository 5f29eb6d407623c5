/**
 * The last lines reach the output before the process ends. A logger may write asynchronously
 * (pino's default destination, sonic-boom, holds lines while a write is in progress): ending the
 * process then loses them, or, where the logger flushes synchronously on the `exit` event (Node),
 * writes them ahead of the line still in progress. On Deno, `Deno.exit` emits no `exit` event at
 * all, so pino's own flush on exit never runs. So the drain flushes what the logger offers to
 * flush before it exits, waiting a short, bounded time.
 */
import type { Clock } from "../time/clock.ts";
import type { LoggerOption } from "../types.ts";

/** Writes what the logger holds; resolves when it is written (or the logger gave up). */
export type Flush = () => Promise<void>;

/** The longest wait for the logger before the exit: a stuck stream (a full pipe) must not hold it. */
export const FLUSH_MAX_MS = 250;
/** The shortest: a forced drain that used the whole deadline still gets its report line out. */
export const FLUSH_MIN_MS = 50;

/** pino keeps its destination under a symbol described "pino.stream" (`pino.symbols.streamSym`). */
const PINO_STREAM = "pino.stream";
/** A logger is a short prototype chain (pino's child loggers inherit from their parent). */
const MAX_PROTOTYPES = 16;

/** What the drain may find in a logger's destination: an emitter that says when it has written all. */
interface Destination {
  once(event: "drain", listener: () => void): unknown;
  /** sonic-boom (pino's default destination): true while a write is in progress and lines wait. */
  _writing?: unknown;
}

/**
 * The logger's own flush, when it has one: pino's `flush(cb)` (a callback), or a `flush()` that
 * returns a promise. pino's default destination (sonic-boom 4) calls that callback at once, even
 * while a write is in progress and later lines wait behind it (measured on Deno: 1 of 3 lines out
 * when the callback came); so when the destination is still writing, its `drain` event (all
 * written) is awaited too. Undefined when the logger writes synchronously as far as we can tell
 * (console, a function, the default JSON lines).
 */
export function loggerFlush(option: LoggerOption | undefined): Flush | undefined {
  if (typeof option !== "object" || option === null) return undefined;
  const flush = (option as { flush?: unknown }).flush;
  const destination = pinoDestination(option);
  if (typeof flush !== "function" && destination === undefined) return undefined;
  return async () => {
    if (typeof flush === "function") await callFlush(option, flush as (...args: unknown[]) => unknown);
    if (destination !== undefined && destination._writing === true) {
      await new Promise<void>((resolve) => destination.once("drain", () => resolve()));
    }
  };
}

/** Calls `flush` in either form; an error still means "done trying". */
function callFlush(owner: object, flush: (...args: unknown[]) => unknown): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      const result = flush.call(owner, () => resolve());
      if (result !== null && typeof result === "object" && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(() => resolve(), () => resolve());
      } else if (flush.length === 0) resolve();
    } catch {
      resolve();
    }
  });
}

/** pino's destination stream, when the logger is a pino logger (or a child of one). */
function pinoDestination(logger: object): Destination | undefined {
  let level: object | null = logger;
  for (let depth = 0; level !== null && depth < MAX_PROTOTYPES; depth++, level = Object.getPrototypeOf(level)) {
    const key = Object.getOwnPropertySymbols(level).find((symbol) => symbol.description === PINO_STREAM);
    if (key === undefined) continue;
    const stream = (level as Record<symbol, unknown>)[key];
    const once = (stream as { once?: unknown } | null)?.once;
    return typeof once === "function" ? stream as Destination : undefined;
  }
  return undefined;
}

/**
 * How long the exit waits for the logger: the time left before the deadline, within
 * [FLUSH_MIN_MS, FLUSH_MAX_MS]. It only waits that long when the stream is stuck; a logger whose
 * output is read flushes in a millisecond or two.
 */
export function flushBudget(msLeft: number): number {
  return Math.min(FLUSH_MAX_MS, Math.max(FLUSH_MIN_MS, msLeft));
}

/** Runs `flush` (when there is one), waiting at most `ms` on `clock`. Never rejects. */
export function flushWithin(clock: Clock, flush: Flush | undefined, ms: number): Promise<void> {
  if (flush === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const cancel = clock.setTimer(resolve, ms);
    flush().then(() => {
      cancel();
      resolve();
    });
  });
}
