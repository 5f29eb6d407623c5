/**
 * Time, injected: the core never reads a global timer directly, so unit tests drive it with a fake
 * clock and no real waiting.
 */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Milliseconds since the epoch, for the report. */
  wallTime(): number;
  /** Run `fn` after `ms`; returns the cancel. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** The real clock: web-standard timers, present on every runtime. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallTime: () => Date.now(),
  setTimer(fn, ms) {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  },
};

/** `clock` with its timers from the runtime's exitTimer (for a process about to end), when it has one. */
export function withExitTimer(clock: Clock, runtime: { exitTimer?(fn: () => void, ms: number): () => void }): Clock {
  if (runtime.exitTimer === undefined) return clock;
  return { now: () => clock.now(), wallTime: () => clock.wallTime(), setTimer: (fn, ms) => runtime.exitTimer!(fn, ms) };
}

/** Resolves after `ms` on `clock`, or at once when `cancelled` resolves first. */
export function sleep(clock: Clock, ms: number, cancelled: Promise<unknown>): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const cancel = clock.setTimer(resolve, ms);
    cancelled.then(() => {
      cancel();
      resolve();
    });
  });
}

/** Runs `work` unless `cancelled` resolves first: true when the work finished, false when cancelled. */
export function unlessCancelled(cancelled: Promise<unknown>, work: () => Promise<void>): Promise<boolean> {
  return Promise.race([work().then(() => true), cancelled.then(() => false)]);
}

/**
 * Calls `fn` (a synchronous throw counts as a rejection) and waits for it at most `ms` on `clock`:
 * settles as the call does, or rejects with `timedOut()` once the time is up. The call itself runs
 * on; its own end is still observed, so a late rejection is never unhandled.
 */
export function withTimeout(clock: Clock, ms: number, fn: () => unknown, timedOut: () => unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const cancel = clock.setTimer(() => reject(timedOut()), ms);
    new Promise((run) => run(fn())).then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error) => {
        cancel();
        reject(error);
      },
    );
  });
}
