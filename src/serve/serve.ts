/**
 * serveGracefully, built once per runtime: checks the input, builds the request handler and joins
 * the server to a lifecycle, which starts it and, on the signal, drains it.
 */
import { invalid } from "../check/input.ts";
import { ServerTraffic } from "../drain/traffic.ts";
import { asksToClose, createHandler, deliveredIfConnected, withConnectionClose } from "../request/handler.ts";
import { asServerLifecycle, type Lifecycle, type ServerLifecycle, type ServerRefusal } from "../drain/lifecycle-types.ts";
import { ListenError } from "./listen-error.ts";
import { handlerError } from "../log/events.ts";
import { toLog } from "../log/logger.ts";
import { startPrimary, type WorkerCount, workerCount } from "../workers/primary.ts";
import { workerLogger, type WorkerRole } from "../workers/worker.ts";
import { reloadSkipped } from "../workers/events.ts";
import { resolveOptions, type ServeOptions, workersFromText } from "../options/options.ts";
import type { ServerPart } from "../drain/parts.ts";
import type { AppSettled, FetchApp, ListenInfo, RuntimeAdapter, ShutdownReport } from "../types.ts";

/** What serveGracefully returns. */
export interface GracefulServer {
  /** `{ port, hostname }` once listening; rejects (ListenError) when it cannot listen. */
  readonly ready: Promise<ListenInfo>;
  /** The same drain a signal starts; idempotent; resolves to the report. */
  shutdown(): Promise<ShutdownReport>;
  /** The report, however the shutdown started. */
  readonly finished: Promise<ShutdownReport>;
  /** Aborted the moment the drain starts (the lifecycle's signal). */
  readonly signal: AbortSignal;
  /** The lifecycle this server belongs to. */
  readonly lifecycle: Lifecycle;
}

/** serveGracefully, as each adapter exports it; `PassThrough` is the runtime server's own options. */
export interface ServeGracefully<PassThrough> {
  /**
   * Serve a Hono app (or any fetch handler) with graceful shutdown: on SIGTERM or SIGINT, `/readyz`
   * answers 503, in-flight requests and `waitUntil` tasks finish, connections close after their
   * responses, parts stop in reverse order, and the process exits (0 when nothing was cut).
   *
   * @param app - A Hono app, or anything with `fetch(request, env, executionCtx)`.
   * @param options - Every field optional; each option's default is on its field in ServeOptions.
   *   Plus the runtime server's own options, passed through: @hono/node-server's (`createServer`,
   *   `serverOptions`, `websocket`, ...), Bun.serve's (`idleTimeout`, `tls`, `websocket`, ...) or
   *   Deno.serve's (`cert`, `key`, `reusePort`).
   * @returns `{ ready, shutdown(), finished, signal, lifecycle }`; `ready` rejects with a ListenError.
   * @example
   * ```ts
   * import { Hono } from "hono";
   * import { serveGracefully } from "serve-gracefully";
   *
   * const app = new Hono().get("/", (c) => c.text("hello"));
   * const server = serveGracefully(app, { port: 3000 });
   * await server.ready; // listening; a SIGTERM now drains and exits
   * ```
   */
  (app: FetchApp, options?: ServeOptions & PassThrough): GracefulServer;
}

/**
 * Builds serveGracefully for one runtime. `passThroughKeys` name the adapter's own options, which
 * go to its listen() as `passThrough`, untouched, for the runtime's server.
 */
/** Why a reload signal to a single process changes nothing. */
export const ONE_PROCESS_RELOAD = "workers came to 1, and one process has no second one to replace it with: restart it to run new code";

export function createServeGracefully<PassThrough extends object>(
  runtime: RuntimeAdapter,
  defaultLifecycle: ServerLifecycle,
  passThroughKeys: readonly (keyof PassThrough & string)[],
  role?: WorkerRole,
): ServeGracefully<PassThrough> {
  const closeConnectionAfter = runtime.closeConnectionAfter ?? withConnectionClose;
  const watchDelivery = runtime.watchDelivery ?? deliveredIfConnected;
  const closeAsked = runtime.asksToClose ?? asksToClose;
  let isPrimary = false;
  return (app, options) => {
    if (typeof (app as FetchApp | undefined)?.fetch !== "function") {
      invalid("serveGracefully", "app", "a Hono app or an object with fetch(request, env, executionCtx)", app);
    }
    // The command's primary of workers imports the entry only to check it: a server (or a primary of
    // its own, with WEB_CONCURRENCY) started there would run beside the command's workers.
    const refusal = (defaultLifecycle as { serverRefusal?: ServerRefusal }).serverRefusal;
    if (refusal !== undefined) {
      refusal.hit = true;
      throw new TypeError(`serveGracefully: ${refusal.reason}`);
    }
    if (isPrimary) {
      throw new TypeError(
        "serveGracefully: this process is the primary of `workers` and serves nothing: call serveGracefully once (each worker runs the whole entry)",
      );
    }
    const resolved = resolveOptions(options, (name) => runtime.env(name), passThroughKeys);
    if (role !== undefined && resolved.signals.length === 0) {
      // A reload's new code with `signals: false` (or []): nothing in this worker would take the
      // primary's drain order, and the primary killed it at the deadline (exit 1, its requests cut).
      // Refused as the primary refuses it at the start: the reload fails, the old workers serve on.
      throw new TypeError(
        'serveGracefully: "workers" needs "signals": the primary passes a signal on to start the drain in every worker (this worker\'s entry has none)',
      );
    }
    const lifecycle = options?.lifecycle === undefined ? defaultLifecycle : asServerLifecycle(options.lifecycle, "serveGracefully");
    // More than one worker: this process becomes their primary and serves nothing itself.
    let count: WorkerCount | undefined;
    if (role === undefined && resolved.workers.requested !== 1) {
      count = workerCount(resolved.workers, runtime);
      if (count.count > 1) {
        const primary = startPrimary(runtime, resolved, count);
        isPrimary = true;
        lifecycle.becomePrimary(primary);
        return {
          ready: primary.ready,
          finished: primary.finished,
          shutdown: () => primary.shutdown(),
          get signal() {
            return primary.signal;
          },
          lifecycle,
        };
      }
    }
    if (role === undefined && resolved.workers.from !== "default" && resolved.reloadSignal !== false) {
      // Workers were asked for and one it is ("auto" on one CPU, WEB_CONCURRENCY=1): a reload
      // (systemctl reload) must not end the process by the signal's default action, cutting what
      // is in flight, and there is no second process to replace this one with.
      const why = ONE_PROCESS_RELOAD.replace("workers came to 1", `workers came to 1${workersFromText(resolved.workers)}`);
      const off = runtime.onSignal(resolved.reloadSignal, () => lifecycle.log(reloadSkipped(why)));
      void lifecycle.finished.then(off, off);
    }
    // A worker: its start failure, listening line and report go to the primary; it listens on the
    // port the primary chose (if it chose one), shared with the other workers.
    const settings = role === undefined ? resolved : { ...resolved, logger: workerLogger(role, resolved.logger, toLog) };
    const passThrough: Record<string, unknown> = {};
    for (const key of passThroughKeys) if (options?.[key] !== undefined) passThrough[key] = options[key];

    const traffic = new ServerTraffic();
    let resolveReady!: (info: ListenInfo) => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<ListenInfo>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // The failure is logged and reported; an unobserved `ready` must not crash the process too.
    ready.catch(() => {});
    const hostname = resolved.hostname;
    const port = role?.port ?? resolved.port;
    const part: ServerPart = {
      kind: "server",
      name: resolved.name ?? `server:${port}`,
      renameOnListen: resolved.name === undefined && port === 0,
      namedByUser: resolved.name !== undefined,
      traffic,
      listening: undefined,
      listen: async () => {
        const appSettled: AppSettled = {};
        const handler = createHandler({
          app,
          health: resolved.health,
          readiness: lifecycle.readiness,
          traffic,
          tasks: lifecycle.tasks,
          closeConnectionAfter,
          asksToClose: closeAsked,
          watchDelivery,
          appSettled,
          onHandlerError: (error) => lifecycle.log(handlerError(error)),
        });
        let listening;
        try {
          listening = await runtime.listen(handler, {
            hostname,
            port,
            keepAliveTimeout: resolved.keepAliveTimeout,
            appSettled,
            passThrough,
            shared: role !== undefined,
          });
        } catch (error) {
          throw new ListenError(error, hostname, port);
        }
        // The startup line shows the idle timeout the runtime really applies, and why it differs.
        if (listening.keepAlive) {
          part.startup.keepAliveTimeoutMs = listening.keepAlive.timeoutMs;
          part.startup.keepAliveNote = listening.keepAlive.note;
        }
        return listening;
      },
      onListen: (info) => resolved.onListen?.(info),
      startup: {
        timeoutMs: resolved.timeout,
        drainDelayMs: resolved.drainDelay,
        keepAliveTimeoutMs: resolved.keepAliveTimeout,
        platform: resolved.platform.name,
        defaults: resolved.sources.timeout === "platform" || resolved.sources.drainDelay === "platform"
          ? `${resolved.platform.name}: ${resolved.platform.why}`
          : "library defaults unless given",
        ...(count !== undefined && { workers: count.count, workersFrom: count.from }),
      },
      resolveReady,
      rejectReady,
    };
    lifecycle.addServer(part, settings);
    if (role !== undefined) {
      // With what this entry asked for of the settings only the primary applies: at a reload, the
      // primary says which of them the running service keeps.
      const { workers, timeout, signals, reloadSignal } = resolved;
      const asked = { port: resolved.port, workers: workers.requested, timeout, signals: [...signals], reloadSignal };
      ready.then((info) => role.send({ sg: "listening", port: info.port, hostname: info.hostname, asked }), () => {});
    }
    const finished = lifecycle.finished;
    return {
      ready,
      finished,
      shutdown: () => lifecycle.shutdown(),
      get signal() {
        return lifecycle.signal;
      },
      lifecycle,
    };
  };
}
