/**
 * What /readyz knows beyond "not draining": whether the start sequence has completed (the startup
 * gate) and the parts' own `check`s. Checks run only when a probe asks, never on the app's requests.
 * Each check is called at most once at a time: probes that arrive meanwhile share its answer, and the
 * answer is reused for CHECK_CACHE_MS, so a probe storm costs a dependency one call per interval.
 * A check that has not settled within its timeout counts as failing. A change of a check's state
 * is logged once (health.unready / health.ready), not once per probe.
 */
import { type Clock, withTimeout } from "../time/clock.ts";
import { healthReady, healthUnready } from "../log/events.ts";
import { errorMessage, type Log } from "../log/logger.ts";
import type { HookPart, Part } from "./parts.ts";

/** How long a check's result is reused before the next probe calls it again. */
export const CHECK_CACHE_MS = 1_000;
/** Failure reasons are cut to this many characters (they are shown under ?verbose). */
export const REASON_MAX_CHARS = 200;
/** What a check's call is rejected with when it outlives its timeout (no error of the check's can be it). */
const TIMED_OUT = Symbol("timed out");
/** At most this many not-started part names in the startup gate's reason. */
const PENDING_NAMES_SHOWN = 5;

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Why it fails: the error's message, one line, bounded; or "timed out after N ms". */
  reason?: string;
}

/** A part's check as /readyz sees it; `started: false` means it is not called yet. */
export interface RegisteredCheck {
  part: HookPart & { check: () => unknown };
  started: boolean;
}

/** The lifecycle's side: which parts are registered in this run and which have started. */
export interface StartProgress {
  /** True once every registered part has started (the lifecycle is "running"). */
  running: boolean;
  stopping: boolean;
  parts: readonly Part[];
  started: readonly Part[];
}

interface CheckState {
  /** The last result and when (clock ms) it was taken. */
  last: { ok: boolean; reason: string | undefined; at: number } | undefined;
  /** The timed answer the probes waiting now share; it settles within the check's timeout. */
  answer: Promise<CheckResult> | undefined;
  /** The check's own call is still running (it may outlive its timeout). */
  calling: boolean;
  /** The state last logged; undefined until the first result. */
  logged: boolean | undefined;
}

/** The error's message on one line, bounded: no stack, no other fields. */
export function failureReason(error: unknown): string {
  const line = errorMessage(error).replace(/[\s\p{Cc}]+/gu, " ").trim();
  if (line === "") return "failed";
  return line.length > REASON_MAX_CHARS ? `${line.slice(0, REASON_MAX_CHARS - 3)}...` : line;
}

export class Readiness {
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #progress: () => StartProgress;
  readonly #cacheMs: number;
  // Keyed by the part object: a new run (new parts) starts with fresh state, and nothing is kept for parts gone.
  #states = new WeakMap<HookPart, CheckState>();

  constructor(clock: Clock, log: Log, progress: () => StartProgress, cacheMs: number = CHECK_CACHE_MS) {
    this.#clock = clock;
    this.#log = log;
    this.#progress = progress;
    this.#cacheMs = cacheMs;
  }

  /** Why the start sequence is not complete (names the parts still to start), or undefined once it is. */
  startupPending(): string | undefined {
    const progress = this.#progress();
    if (progress.running) return undefined;
    const waiting = progress.parts.filter((p) => !progress.started.includes(p)).map((p) => p.name);
    // A drain that began after the start completed (a worker a reload replaces answers /readyz then).
    if (progress.stopping) return waiting.length === 0 ? undefined : "shutting down";
    if (waiting.length === 0) return "starting";
    const shown = waiting.slice(0, PENDING_NAMES_SHOWN).join(", ");
    return `waiting for ${shown}${waiting.length > PENDING_NAMES_SHOWN ? ` and ${waiting.length - PENDING_NAMES_SHOWN} more` : ""}`;
  }

  /** Every registered part that has a check, in registration order. */
  checks(): RegisteredCheck[] {
    const progress = this.#progress();
    const checks: RegisteredCheck[] = [];
    for (const part of progress.parts) {
      if (part.kind !== "hook" || part.check === undefined) continue;
      checks.push({ part: part as RegisteredCheck["part"], started: progress.started.includes(part) });
    }
    return checks;
  }

  /** The results of these checks, cached or fresh; settles within the longest of their timeouts. */
  run(parts: readonly RegisteredCheck["part"][]): Promise<CheckResult[]> {
    return Promise.all(parts.map((part) => this.#result(part)));
  }

  #result(part: RegisteredCheck["part"]): CheckResult | Promise<CheckResult> {
    let state = this.#states.get(part);
    if (state === undefined) {
      state = { last: undefined, answer: undefined, calling: false, logged: undefined };
      this.#states.set(part, state);
    }
    const now = this.#clock.now();
    if (state.last !== undefined && now - state.last.at < this.#cacheMs) {
      return { name: part.name, ok: state.last.ok, reason: state.last.reason };
    }
    if (state.answer !== undefined) return state.answer;
    // The previous call outlived its timeout and still runs: do not pile another one on the dependency.
    if (state.calling) return this.#record(part, state, false, `timed out after ${part.checkTimeout} ms (still running)`);
    return (state.answer = this.#call(part, state));
  }

  #call(part: RegisteredCheck["part"], state: CheckState): Promise<CheckResult> {
    state.calling = true;
    const check = () => new Promise((run) => run(part.check())).finally(() => (state.calling = false));
    const timedOut = `timed out after ${part.checkTimeout} ms`;
    const finish = (ok: boolean, reason: string | undefined) => {
      state.answer = undefined;
      return this.#record(part, state, ok, reason);
    };
    return withTimeout(this.#clock, part.checkTimeout, check, () => TIMED_OUT).then(
      () => finish(true, undefined),
      (error) => finish(false, error === TIMED_OUT ? timedOut : failureReason(error)),
    );
  }

  #record(part: HookPart, state: CheckState, ok: boolean, reason: string | undefined): CheckResult {
    state.last = { ok, reason, at: this.#clock.now() };
    if (state.logged !== ok) {
      // The first result is logged only when it fails: "db is fine" at startup is no news.
      if (!ok) this.#log(healthUnready(part.name, reason));
      else if (state.logged === false) this.#log(healthReady(part.name));
      state.logged = ok;
    }
    return { name: part.name, ok, reason };
  }
}
