/**
 * Deno adapter, on Deno.serve (https://docs.deno.com/api/deno/~/Deno.serve). Maps the Deno server
 * and signal listeners onto the core, nothing more.
 */
import {
  bindRuntime,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  readAncestorsIfInitMatters,
  type RuntimeAdapter,
  type RuntimeBinding,
  type ServeGracefully,
  type ShutdownSignal,
} from "../src/core.ts";

/** The slice of the Deno namespace this adapter uses (typed here so tsc needs no Deno types). */
interface DenoApi {
  serve(
    options: Record<string, unknown>,
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
  addSignalListener(signal: ShutdownSignal, listener: () => void): void;
  removeSignalListener(signal: ShutdownSignal, listener: () => void): void;
  exit(code: number): never;
  env: { get(name: string): string | undefined };
  pid: number;
  ppid: number;
  readTextFileSync(path: string): string;
  permissions: { querySync(descriptor: { name: "read"; path: string }): { state: string } };
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

/** Deno.serve's own options, passed through (`c.env` stays Deno's handler info). */
export interface DenoPassThroughOptions {
  cert?: string;
  key?: string;
  reusePort?: boolean;
}
const DENO_PASS_THROUGH_KEYS = ["cert", "key", "reusePort"] as const;

/** Methods whose requests carry no body: every other one (POST, PUT, WebDAV's, custom) may. */
const BODILESS = new Set(["GET", "HEAD", "TRACE"]);

const runtime: RuntimeAdapter = {
  name: "deno",
  listen(handler, { hostname, port, passThrough }) {
    // Deno's shutdown() breaks request bodies still arriving (denoland/deno#36809): the handler
    // reading one gets an error and the client a 500. Handlers given a body are tracked so that
    // close() can wait for them before it shuts the server down.
    const withBody = new Set<Promise<unknown>>();
    // The method, not `request.body`: reading that getter makes Deno build a body stream, and the
    // app's json()/text() then take the slow path (measured: 0.87x on a JSON API). A POST without a
    // body is tracked too, which only means close() waits for its handler.
    const track = (request: Request, info: unknown): Response | Promise<Response> => {
      if (BODILESS.has(request.method)) return handler(request, info);
      // The core's handler never throws (it answers errors with a 500); one that answered at once
      // has nothing left to read.
      const result = handler(request, info);
      if (!(result instanceof Promise)) return result;
      const settled: Promise<unknown> = result.then(() => withBody.delete(settled), () => withBody.delete(settled));
      withBody.add(settled);
      return result;
    };
    let server: ReturnType<DenoApi["serve"]>;
    try {
      // Deno.serve binds synchronously and throws when it cannot; an onListen of our own keeps
      // Deno from printing its "Listening on" line.
      server = Deno.serve({ ...passThrough, hostname, port, onListen: () => {} }, track);
    } catch (error) {
      return Promise.reject(error);
    }
    let shutDown: Promise<void> | undefined;
    const shutdown = () => (shutDown ??= server.shutdown());
    let stopped: Promise<void> | undefined;
    const listening: ListeningServer = {
      port: server.addr.port,
      hostname,
      // shutdown(): closes the listener and idle connections, lets in-flight responses finish.
      // It waits first for the handlers that were given a request body (bounded by the drain's
      // deadline); new arrivals meanwhile are served and their connections closed after.
      close: () => (stopped ??= Promise.all(withBody).then(shutdown)),
      // Deno closes its listener on a later turn of the event loop than shutdown()'s call; a 1 ms
      // timer lets it poll its I/O first (measured: half the dropped arrivals at close, or less).
      stoppedAccepting: () => new Promise((resolve) => setTimeout(resolve, 1)),
      closeIdle() {},
      // At the deadline the listener closes even if a handler with a body still runs. Aborting
      // Deno's server after shutdown() crashes the process: only ending it cuts connections.
      forceClose() {
        void shutdown();
        return false;
      },
      openConnections: () => undefined,
      // Deno.serve has no idle timeout: it keeps an idle kept-alive connection until the client
      // (or shutdown()) closes it, so it never closes one under a balancer.
      keepAlive: { timeoutMs: null, note: "Deno.serve never closes idle keep-alive connections" },
    };
    return Promise.resolve(listening);
  },
  // Served once Deno says the response is complete (the handler info's `completed`), cut if that
  // rejects. Not request.signal: Deno aborts it after every response and warns once read.
  watchDelivery(_response, _request, info, delivered) {
    const completed = (info as { completed?: Promise<void> } | undefined)?.completed;
    if (completed === undefined) return delivered(true);
    completed.then(() => delivered(true), () => delivered(false));
  },
  // Deno.addSignalListener, not node:process: process.on runs promise callbacks ~6 ms sooner after
  // the signal, but importing node:process costs Deno ~6 MiB of RSS and ~30 ms of cold start.
  onSignal(signal, listener) {
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  },
  onFatalError(listener) {
    const onError = (event: ErrorEvent) => {
      event.preventDefault();
      listener(event.error, "uncaughtException");
    };
    const onRejection = (event: PromiseRejectionEvent) => {
      event.preventDefault();
      listener(event.reason, "unhandledRejection");
    };
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onRejection);
    return () => {
      globalThis.removeEventListener("error", onError);
      globalThis.removeEventListener("unhandledrejection", onRejection);
    };
  },
  exit: (code) => Deno.exit(code),
  async processOrigin() {
    if (Deno.pid === 1) return { pid: 1, ppid: Deno.ppid, ancestors: [] };
    // Without read permission for /proc, asking would prompt on a terminal: stay silent instead.
    if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") return undefined;
    // Sync reads (a /proc file is read at once): the async ones cost ~0.5 MiB more RSS (measured).
    const ancestors = await readAncestorsIfInitMatters(Deno.ppid, async (path) => Deno.readTextFileSync(path));
    return ancestors && { pid: Deno.pid, ppid: Deno.ppid, ancestors }; // undefined: not Linux
  },
  env(name) {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // no --allow-env: behave as if unset
    }
  },
};

const binding: RuntimeBinding<DenoPassThroughOptions> = bindRuntime<DenoPassThroughOptions>(runtime, DENO_PASS_THROUGH_KEYS);

/** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
/** The process-wide lifecycle every server joins unless told otherwise (one per process, shared by every copy of this package). */
export const lifecycle: Lifecycle = binding.lifecycle;
/**
 * Serve a Hono app (or any fetch handler) on Deno, with graceful shutdown: on SIGTERM or SIGINT,
 * `/readyz` answers 503, in-flight requests and `waitUntil` tasks finish, connections close after
 * their responses, parts stop in reverse order, and the process exits (0 when nothing was cut).
 *
 * @param app - A Hono app, or anything with `fetch(request, env, executionCtx)`.
 * @param options - Every field optional. `port` @default the PORT variable, else 3000 ·
 *   `hostname` @default "0.0.0.0" · `timeout` @default 25000 ms, from the signal to the forced
 *   stop (Cloud Run: 8000, Fly.io: 3000, when detected) · `drainDelay` @default 0 (Kubernetes: 5000) ·
 *   `signals` @default ["SIGTERM", "SIGINT"] · `health` @default { ready: "/readyz", live: "/livez" } ·
 *   `keepAliveTimeout` @default 75000 ms, an idle kept-alive connection's life (Cloud Run: 620000) ·
 *   `exit` @default true · `logger` @default JSON lines on the console · `fatalErrors` @default true ·
 *   `name` @default "server:<port>" · `onListen` called once listening ·
 *   `lifecycle` @default the process-wide one · plus Deno.serve's own options (`cert`, `key`, `reusePort`).
 * @returns `{ ready, shutdown(), finished, signal, lifecycle }`; `ready` rejects with a ListenError.
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { serveGracefully } from "serve-gracefully/deno";
 *
 * const app = new Hono().get("/", (c) => c.text("hello"));
 * const server = serveGracefully(app, { port: 3000 });
 * await server.ready; // listening; a SIGTERM now drains and exits
 * ```
 */
export const serveGracefully: ServeGracefully<DenoPassThroughOptions> = binding.serveGracefully;
/** End a stream (hono/streaming's streamSSE) cleanly when the drain closes the listeners (after the drain delay). */
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;

export * from "../src/exports.ts";
