/**
 * Bun adapter, on Bun.serve (https://bun.sh/docs/api/http). Maps the Bun server and process
 * signals onto the core, nothing more.
 */
import {
  bindRuntime,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  type RuntimeAdapter,
  type RuntimeBinding,
  type ServeGracefully,
} from "../src/core.ts";
import { nodeProcess, processOriginReading } from "./node-process.ts";

/** The slice of Bun's API this adapter uses (typed here so neither tsc nor JSR needs Bun's types). */
interface BunServer {
  port: number | undefined;
  pendingRequests: number;
  pendingWebSockets: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
  closeIdleConnections?(): void;
}
interface ServerWebSocket {
  close(code?: number, reason?: string): void;
}
interface WebSocketHandler {
  open?(ws: ServerWebSocket): unknown;
  close?(ws: ServerWebSocket, code: number, reason: string): unknown;
}
const Bun = (globalThis as unknown as {
  Bun: { serve(options: Record<string, unknown>): BunServer; file(path: string): { text(): Promise<string> } };
}).Bun;

/** Bun.serve's own options, passed through (the second argument, `c.env`, stays the Bun server). */
export interface BunPassThroughOptions {
  tls?: unknown;
  idleTimeout?: number;
  maxRequestBodySize?: number;
  websocket?: unknown;
  reusePort?: boolean;
  ipv6Only?: boolean;
  development?: boolean;
}
const BUN_MAX_IDLE_S = 255;
/** How often the drain looks whether Bun still has a response or WebSocket pending. */
const PENDING_POLL_MS = 5;
const BUN_PASS_THROUGH_KEYS = ["tls", "idleTimeout", "maxRequestBodySize", "websocket", "reusePort", "ipv6Only", "development"] as const;

const runtime: RuntimeAdapter = {
  name: "bun",
  listen(handler, { hostname, port, keepAliveTimeout, passThrough }) {
    // WebSockets (hono/bun's `websocket` handler): tracked to close with 1001 when the drain starts.
    const webSockets = new Set<ServerWebSocket>();
    const given = passThrough.websocket as WebSocketHandler | undefined;
    const websocket = given && {
      ...given,
      open(ws: ServerWebSocket) {
        webSockets.add(ws);
        return given.open?.call(given, ws);
      },
      close(ws: ServerWebSocket, code: number, reason: string) {
        webSockets.delete(ws);
        return given.close?.call(given, ws, code, reason);
      },
    };
    // idleTimeout: whole seconds, at most 255; it also cuts a streaming response silent that long.
    // An explicit idleTimeout wins.
    const seconds = Math.min(BUN_MAX_IDLE_S, Math.ceil(keepAliveTimeout / 1000));
    const idleTimeout = (passThrough.idleTimeout as number | undefined) ?? seconds;
    let server: BunServer;
    // A request without a Host header (HTTP/1.0 may omit it; HAProxy's `option httpchk GET /readyz`
    // does) reaches the handler with a bare path as its URL ("/readyz"), and Hono routes no bare
    // path: such a request gets the default host Deno gives it, http://localhost:<port>.
    const scheme = passThrough.tls ? "https" : "http";
    const withHost = (request: Request, bunServer: unknown) =>
      handler(
        request.url.charCodeAt(0) === 47 ? new Request(`${scheme}://localhost:${server.port}${request.url}`, request) : request,
        bunServer,
      );
    try {
      // Bun.serve binds synchronously and throws when it cannot.
      server = Bun.serve({ ...passThrough, idleTimeout, websocket, hostname, port, fetch: withHost });
    } catch (error) {
      return Promise.reject(error);
    }
    let stopped: Promise<void> | undefined;
    let settled = false;
    let watching = false;
    // Bun's stop() never resolves while a connection that never sent a request and is older than
    // ~1 s is open (Chromium keeps such a spare connection; measured on 1.4.5: at 900 ms stop()
    // closes it, at 1.1 s it waits forever), and closeIdleConnections() leaves it open. Once nothing
    // is pending (every response written, no WebSocket) what is left is idle: stop(true) closes it
    // (a clean FIN) and resolves stop(). Polled, as Bun tells no event when a response is written;
    // it ends when stop() settles, at the latest at the deadline's forceClose.
    const closeLeftIdle = () => {
      if (settled) return;
      if (server.pendingRequests === 0 && server.pendingWebSockets === 0) return void server.stop(true);
      setTimeout(closeLeftIdle, PENDING_POLL_MS);
    };
    const listening: ListeningServer = {
      port: server.port ?? port,
      hostname,
      // stop(): closes the listener and idle connections, lets in-flight responses finish, and
      // resolves when the last connection is gone.
      close() {
        for (const ws of webSockets) ws.close(1001, "server shutting down");
        return (stopped ??= server.stop().finally(() => (settled = true)));
      },
      closeIdle() {
        server.closeIdleConnections?.();
        if (stopped === undefined || watching) return;
        watching = true;
        closeLeftIdle();
      },
      // Bun counts a request as pending until its response is written (measured: a 64 MiB body to a
      // client that does not read stays pending until it has read it), so 0 means nothing to lose.
      idleForExit: () => server.pendingRequests === 0 && server.pendingWebSockets === 0,
      forceClose() {
        // Cuts streams and WebSockets (1001) and resolves the pending stop().
        void server.stop(true);
        return true;
      },
      openConnections: () => server.pendingRequests + server.pendingWebSockets,
      keepAlive: passThrough.idleTimeout !== undefined
        ? { timeoutMs: idleTimeout === 0 ? null : idleTimeout * 1000, note: "Bun idleTimeout given" }
        : seconds * 1000 !== keepAliveTimeout
        ? {
          timeoutMs: seconds * 1000,
          note: `asked ${keepAliveTimeout} ms; Bun's idleTimeout counts whole seconds, at most ${BUN_MAX_IDLE_S}`,
        }
        : undefined,
    };
    return Promise.resolve(listening);
  },
  ...nodeProcess,
  // Bun.file reads /proc for the PID 1 check without loading node:fs (~2 MiB of RSS on Bun).
  processOrigin: () => processOriginReading((path) => Bun.file(path).text()),
};

const binding: RuntimeBinding<BunPassThroughOptions> = bindRuntime<BunPassThroughOptions>(runtime, BUN_PASS_THROUGH_KEYS);

/** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
/** The process-wide lifecycle every server joins unless told otherwise (one per process, shared by every copy of this package). */
export const lifecycle: Lifecycle = binding.lifecycle;
/**
 * Serve a Hono app (or any fetch handler) on Bun, with graceful shutdown: on SIGTERM or SIGINT,
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
 *   `lifecycle` @default the process-wide one · plus Bun.serve's own options (`idleTimeout`, `tls`, `websocket`, ...).
 * @returns `{ ready, shutdown(), finished, signal, lifecycle }`; `ready` rejects with a ListenError.
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { serveGracefully } from "serve-gracefully/bun";
 *
 * const app = new Hono().get("/", (c) => c.text("hello"));
 * const server = serveGracefully(app, { port: 3000 });
 * await server.ready; // listening; a SIGTERM now drains and exits
 * ```
 */
export const serveGracefully: ServeGracefully<BunPassThroughOptions> = binding.serveGracefully;
/** End a stream (hono/streaming's streamSSE) cleanly when the drain closes the listeners (after the drain delay). */
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;

export * from "../src/exports.ts";
