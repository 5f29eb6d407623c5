/**
 * The options of serveGracefully, their defaults, and the checks that turn bad input into a clear
 * TypeError before anything listens.
 */
import { invalid, type KeyListOf, knownKeys } from "../check/input.ts";
import { durationMs } from "../time/duration.ts";
import type { Lifecycle } from "../drain/lifecycle-types.ts";
import { DEFAULT_TIMEOUT_MS, detectPlatform, type Platform } from "../process/platform.ts";
import { isShutdownSignal, type ListenInfo, type LoggerOption, SHUTDOWN_SIGNALS, type ShutdownSignal } from "../types.ts";

/** Health endpoint paths; `false` turns one off. */
export interface HealthOptions {
  /** @default "/readyz" - 200 once every part started and while every part's `check` passes; 503 from the moment the drain starts. */
  ready?: string | false;
  /** @default "/livez" - 200 until the process ends. */
  live?: string | false;
}

/** The options every adapter accepts. Every field is optional. */
export interface ServeOptions {
  /** @default the PORT environment variable, else 3000. 0 picks a free port. */
  port?: number;
  /** @default "0.0.0.0", all IPv4 interfaces, as containers need. */
  hostname?: string;
  /**
   * Milliseconds from the signal to the forced stop: whatever is still open then is cut and the
   * process exits 1. Covers the drain delay, the drain and the lifecycle stops.
   * @default 25000 - 5 s inside the 30 s that Kubernetes and ECS give before SIGKILL (Cloud Run:
   * 8000, Fly.io: 3000, when they are detected).
   */
  timeout?: number;
  /**
   * Milliseconds to keep serving after the signal while /readyz answers 503; at most `timeout` less
   * 1000, which the drain itself needs. @default 0 (Kubernetes: 5000; when that would leave the
   * drain less than 1000 ms, half the timeout, at most the timeout less 1000)
   */
  drainDelay?: number;
  /** Signals that start the drain; `false` for none (shutdown() only). @default ["SIGTERM", "SIGINT"] */
  signals?: readonly ShutdownSignal[] | false;
  /** Health endpoints, answered before the app; `false` for none. @default { ready: "/readyz", live: "/livez" } */
  health?: HealthOptions | false;
  /** Called once the server listens. */
  onListen?: (info: ListenInfo) => void;
  /** End the process when a signal-started shutdown is done. @default true */
  exit?: boolean;
  /** Where the structured log lines go; `false` for silence. @default JSON lines on the console */
  logger?: LoggerOption;
  /** The lifecycle this server joins. @default the process-wide `lifecycle` */
  lifecycle?: Lifecycle;
  /** Name of this server in logs and the report. @default "server:<port>" */
  name?: string;
  /**
   * Start the same graceful drain (then exit 1) on an uncaught exception or unhandled rejection,
   * instead of dying mid-request. `false` leaves them to the runtime. @default true
   */
  fatalErrors?: boolean;
  /**
   * Milliseconds a kept-alive connection may sit idle before the server closes it. Must outlast
   * the load balancer's own idle timeout for pooled upstream connections (AWS ALB and nginx 60 s,
   * Google's front ends 600 s): a server that closes first races the balancer's next request,
   * which then fails with a 502. Bun counts whole seconds up to 255 (a larger value becomes 255 s;
   * an explicit Bun `idleTimeout` wins); Deno.serve never closes idle connections (ignored there).
   * @default 75000 (620000 on Cloud Run, when detected)
   */
  keepAliveTimeout?: number;
  /**
   * Worker processes serving this port, each with the same drain: a whole number >= 1, or "auto"
   * (the CPUs this container may use: cgroup quota, affinity mask, the runtime's count). The
   * primary serves nothing; it starts the workers, passes signals on, restarts crashed workers and
   * reports once. @default the WEB_CONCURRENCY environment variable, else 1 (one process, no primary)
   */
  workers?: number | "auto";
  /**
   * With `workers`: the signal that replaces the workers one at a time, each new one listening
   * before an old one drains; `false` for none. @default "SIGHUP" (none when `signals` lists SIGHUP)
   */
  reloadSignal?: ShutdownSignal | false;
}

/** Options after defaults and checks. */
export interface ResolvedOptions {
  port: number;
  hostname: string;
  timeout: number;
  drainDelay: number;
  signals: readonly ShutdownSignal[];
  health: { ready: string | false; live: string | false };
  onListen: ((info: ListenInfo) => void) | undefined;
  exit: boolean;
  /** undefined: the default console logger. */
  logger: LoggerOption | undefined;
  name: string | undefined;
  fatalErrors: boolean;
  keepAliveTimeout: number;
  /** The workers asked for ("auto" resolved later) and where the number came from. */
  workers: { requested: number | "auto"; from: "option" | "WEB_CONCURRENCY" | "default" };
  reloadSignal: ShutdownSignal | false;
  /** The platform whose defaults applied to timeout and drainDelay (when not given). */
  platform: Platform;
  /** Where timeout and drainDelay came from, for the startup line. */
  sources: { timeout: "option" | "platform" | "default"; drainDelay: "option" | "platform" | "default" };
}

export const DEFAULT_PORT = 3000;
export const DEFAULT_HOSTNAME = "0.0.0.0";
export { DEFAULT_TIMEOUT_MS };
/**
 * What the drain delay must leave of the timeout: the hold, the listeners' close and the requests
 * still running after the delay. A delay 10 ms short of the timeout was accepted and forced every
 * drain (exit 1 with nothing in flight).
 */
export const MIN_DRAIN_WINDOW_MS = 1_000;
export const DEFAULT_SIGNALS: readonly ShutdownSignal[] = ["SIGTERM", "SIGINT"];
/** Every key of ServeOptions; any other key is a TypeError unless the adapter passes it through. */
export const SERVE_OPTION_KEYS = [
  "port",
  "hostname",
  "timeout",
  "drainDelay",
  "signals",
  "health",
  "onListen",
  "exit",
  "logger",
  "lifecycle",
  "name",
  "fatalErrors",
  "keepAliveTimeout",
  "workers",
  "reloadSignal",
] as const;
const _serveKeysMatchServeOptions: KeyListOf<ServeOptions, typeof SERVE_OPTION_KEYS> = true;
const HEALTH_KEYS = ["ready", "live"] as const;
const _healthKeysMatchHealthOptions: KeyListOf<HealthOptions, typeof HEALTH_KEYS> = true;
/** More workers than this is a typo, not a machine. */
export const MAX_WORKERS = 1024;

function fail(option: string, accepts: string, got: unknown): never {
  return invalid("serveGracefully", option, accepts, got);
}

function port(value: unknown, env: (name: string) => string | undefined): number {
  if (value === undefined) {
    const fromEnv = env("PORT");
    if (fromEnv === undefined || fromEnv === "") return DEFAULT_PORT;
    const parsed = Number(fromEnv);
    if (!/^\d+$/.test(fromEnv) || parsed > 65535) fail("port", "an integer from 0 to 65535 (from the PORT environment variable)", fromEnv);
    return parsed;
  }
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) {
    fail("port", "an integer from 0 to 65535", value);
  }
  return value;
}

function healthPath(option: string, value: unknown, fallback: string): string | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== "string" || !value.startsWith("/") || /[?#\s]/.test(value)) {
    fail(option, 'a path starting with "/" (no query) or false', value);
  }
  return value;
}

function health(value: unknown): ResolvedOptions["health"] {
  if (value === false) return { ready: false, live: false };
  if (value === undefined) return { ready: "/readyz", live: "/livez" };
  const paths = knownKeys({ owner: "serveGracefully", option: "health", known: HEALTH_KEYS, orElse: " or false" }, value);
  const ready = healthPath("health.ready", paths.ready, "/readyz");
  const live = healthPath("health.live", paths.live, "/livez");
  if (ready !== false && ready === live) {
    // Named both, so that the command can name both flags; and the default, when one is.
    const byDefault = paths.ready === undefined
      ? ", the default of health.ready"
      : paths.live === undefined
      ? ", the default of health.live"
      : "";
    throw new TypeError(
      `serveGracefully: "health.ready" and "health.live" must be different paths, both are ${JSON.stringify(live)}${byDefault}`,
    );
  }
  return { ready, live };
}

function signals(value: unknown): readonly ShutdownSignal[] {
  if (value === undefined) return DEFAULT_SIGNALS;
  if (value === false) return [];
  if (!Array.isArray(value) || !value.every(isShutdownSignal)) {
    fail("signals", `false or an array of ${SHUTDOWN_SIGNALS.join(", ")}`, value);
  }
  return [...new Set(value as ShutdownSignal[])];
}

/**
 * Said after every message about the workers count when the count came from WEB_CONCURRENCY (an
 * invalid value, "auto", a runtime or OS that cannot run workers, workers without signals), with
 * the library and with the command alike: nobody wrote a `workers` option.
 */
export const FROM_WEB_CONCURRENCY = "(from the WEB_CONCURRENCY environment variable)";

/** ` (from the WEB_CONCURRENCY environment variable)` when the count came from there, else nothing. */
export const workersFromText = (workers: ResolvedOptions["workers"]): string =>
  workers.from === "WEB_CONCURRENCY" ? ` ${FROM_WEB_CONCURRENCY}` : "";

function workers(value: unknown, env: (name: string) => string | undefined): ResolvedOptions["workers"] {
  const accepts = `a whole number from 1 to ${MAX_WORKERS} or "auto"`;
  if (value === undefined) {
    const fromEnv = env("WEB_CONCURRENCY");
    if (fromEnv === undefined || fromEnv.trim() === "") return { requested: 1, from: "default" };
    const text = fromEnv.trim();
    if (text === "auto") return { requested: "auto", from: "WEB_CONCURRENCY" };
    const parsed = Number(text);
    if (!/^\d+$/.test(text) || parsed < 1 || parsed > MAX_WORKERS) {
      fail("workers", `${accepts} ${FROM_WEB_CONCURRENCY}`, fromEnv);
    }
    return { requested: parsed, from: "WEB_CONCURRENCY" };
  }
  if (value === "auto") return { requested: "auto", from: "option" };
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) fail("workers", accepts, value);
  return { requested: value, from: "option" };
}

function reloadSignal(value: unknown, drainSignals: readonly ShutdownSignal[]): ShutdownSignal | false {
  if (value === undefined) return drainSignals.includes("SIGHUP") ? false : "SIGHUP";
  if (value === false) return false;
  if (!isShutdownSignal(value)) fail("reloadSignal", `false or one of ${SHUTDOWN_SIGNALS.join(", ")}`, value);
  if (drainSignals.includes(value)) fail("reloadSignal", `a signal not in "signals" (${drainSignals.join(", ")})`, value);
  return value;
}

function logger(value: unknown): LoggerOption | undefined {
  if (value === undefined || value === false || typeof value === "function") return value as LoggerOption | undefined;
  if (
    typeof value === "object" && value !== null &&
    ["info", "warn", "error"].every((m) => typeof (value as Record<string, unknown>)[m] === "function")
  ) return value as LoggerOption;
  return fail("logger", "false, a function, or an object with info, warn and error methods", value);
}

/**
 * Check the options and fill in defaults. `passThroughKeys` are the adapter's own options (passed
 * through to its server); any other unknown key is a TypeError, so a typo never goes unnoticed.
 */
export function resolveOptions(
  options: unknown,
  env: (name: string) => string | undefined,
  passThroughKeys: readonly string[] = [],
): ResolvedOptions {
  const o = knownKeys(
    { owner: "serveGracefully", known: [...SERVE_OPTION_KEYS, ...passThroughKeys] },
    options === undefined ? {} : options,
  );
  if (o.hostname !== undefined && (typeof o.hostname !== "string" || o.hostname === "")) {
    fail("hostname", "a non-empty string", o.hostname);
  }
  if (o.onListen !== undefined && typeof o.onListen !== "function") fail("onListen", "a function", o.onListen);
  if (o.exit !== undefined && typeof o.exit !== "boolean") fail("exit", "a boolean", o.exit);
  if (o.fatalErrors !== undefined && typeof o.fatalErrors !== "boolean") fail("fatalErrors", "a boolean", o.fatalErrors);
  if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) fail("name", "a non-empty string", o.name);
  const platform = detectPlatform(env);
  const source = (given: unknown, platformValue: number, base: number) =>
    given !== undefined ? "option" as const : platformValue !== base ? "platform" as const : "default" as const;
  // 0 is no "wait for ever" (a common meaning elsewhere): it would force every drain, cutting all in flight.
  const timeout = durationMs("serveGracefully", "timeout", o.timeout, platform.timeout, { positive: true });
  let drainDelay = durationMs("serveGracefully", "drainDelay", o.drainDelay, platform.drainDelay);
  // A platform's delay gives way to a short explicit timeout rather than failing the start.
  const longestDelay = Math.max(0, timeout - MIN_DRAIN_WINDOW_MS);
  if (o.drainDelay === undefined && drainDelay > longestDelay) drainDelay = Math.min(Math.floor(timeout / 2), longestDelay);
  if (drainDelay > longestDelay) {
    const accepts = longestDelay > 0
      ? `at most ${longestDelay} ms: "timeout" (${timeout} ms) less ${MIN_DRAIN_WINDOW_MS} ms, so the drain itself has time`
      : `0: a "timeout" of ${timeout} ms leaves no room for a delay before the drain itself (${MIN_DRAIN_WINDOW_MS} ms)`;
    fail("drainDelay", accepts, drainDelay);
  }
  const keepAliveTimeout = durationMs("serveGracefully", "keepAliveTimeout", o.keepAliveTimeout, platform.keepAliveTimeout, {
    positive: true,
  });
  const drainSignals = signals(o.signals);
  return {
    port: port(o.port, env),
    hostname: (o.hostname as string | undefined) ?? DEFAULT_HOSTNAME,
    timeout,
    drainDelay,
    signals: drainSignals,
    health: health(o.health),
    onListen: o.onListen as ResolvedOptions["onListen"],
    exit: (o.exit as boolean | undefined) ?? true,
    logger: logger(o.logger),
    name: o.name as string | undefined,
    fatalErrors: (o.fatalErrors as boolean | undefined) ?? true,
    keepAliveTimeout,
    workers: workers(o.workers, env),
    reloadSignal: reloadSignal(o.reloadSignal, drainSignals),
    platform,
    sources: { timeout: source(o.timeout, platform.timeout, DEFAULT_TIMEOUT_MS), drainDelay: source(o.drainDelay, platform.drainDelay, 0) },
  };
}
