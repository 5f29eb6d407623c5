/**
 * Bun adapter, on Bun.serve (https://bun.sh/docs/api/http). Maps the Bun server and process
 * signals onto the core, nothing more.
 */
import {
  bindRuntime,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  processOriginReading,
  type RuntimeAdapter,
  type RuntimeBinding,
  type ServeGracefully,
} from "../src/core.ts";
import { nodeProcess, process, watchFatalErrors } from "./node-process.ts";
import { childWorkers } from "./node-workers.ts";
import { exitWatchdog } from "./exit-watchdog.ts";
import { OpenWebSockets } from "./web-sockets.ts";
export * from "../src/exports.ts";

/** The slice of Bun's API this adapter uses (typed here so neither tsc nor JSR needs Bun's types). */
interface BunServer {
  port: number | undefined;
  pendingRequests: number;
  pendingWebSockets: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
  closeIdleConnections?(): void;
  upgrade(request: Request, options?: unknown): boolean;
}
interface ServerWebSocket {
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
}
interface WebSocketHandler {
  open?(ws: ServerWebSocket): unknown;
  close?(ws: ServerWebSocket, code: number, reason: string): unknown;
  drain?(ws: ServerWebSocket): unknown;
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

/**
 * Requests upgraded to a WebSocket: Bun never writes the answer the handler returns for one (it has
 * taken the connection over) and aborts the request's signal, which counted it as cut: a reconnect
 * to a worker that a reload was draining made the reload "not clean", exit 1 (an outside probe).
 */
const upgraded = new WeakSet<Request>();

const runtime: RuntimeAdapter = {
  name: "bun",
  async listen(handler, { hostname, port, keepAliveTimeout, passThrough, shared }) {
    // WebSockets (hono/bun's `websocket` handler): tracked to close with 1001 when the drain starts,
    // each once Bun's send buffer for it is empty: Bun sends the close frame ahead of what is still
    // buffered, and the process exit then drops that data (a 32 MiB message in flight was lost).
    const flushing = new Map<ServerWebSocket, () => void>();
    const flushed = (ws: ServerWebSocket) =>
      ws.getBufferedAmount() === 0 ? Promise.resolve() : new Promise<void>((resolve) => flushing.set(ws, resolve));
    const webSockets = new OpenWebSockets(flushed as (ws: unknown) => Promise<void>);
    const given = passThrough.websocket as WebSocketHandler | undefined;
    const websocket = given && {
      ...given,
      open(ws: ServerWebSocket) {
        webSockets.opened(ws);
        return given.open?.call(given, ws);
      },
      close(ws: ServerWebSocket, code: number, reason: string) {
        webSockets.closed(ws);
        flushing.get(ws)?.();
        flushing.delete(ws);
        return given.close?.call(given, ws, code, reason);
      },
      drain(ws: ServerWebSocket) {
        if (ws.getBufferedAmount() === 0) {
          flushing.get(ws)?.();
          flushing.delete(ws);
        }
        return given.drain?.call(given, ws);
      },
    };
    // idleTimeout: whole seconds, at most 255; it also cuts a streaming response silent that long.
    // An explicit idleTimeout wins.
    const seconds = Math.min(BUN_MAX_IDLE_S, Math.ceil(keepAliveTimeout / 1000));
    const idleTimeout = (passThrough.idleTimeout as number | undefined) ?? seconds;
    // A request without a Host header (HTTP/1.0 may omit it; HAProxy's `option httpchk GET /readyz`
    // does) reaches the handler with a bare path as its URL ("/readyz"), and Hono routes no bare
    // path: such a request gets the default host Deno gives it, http://localhost:<port>.
    const scheme = passThrough.tls ? "https" : "http";
    const withHost = (request: Request, bunServer: unknown) =>
      handler(
        request.url.charCodeAt(0) === 47 ? new Request(`${scheme}://localhost:${server.port}${request.url}`, request) : request,
        bunServer,
      );
    // Bun.serve binds synchronously and throws when it cannot: listen() rejects with that error.
    // Workers share the port: the kernel balances reusePort listeners (Linux).
    const reuse = shared ? { reusePort: true } : {};
    const server: BunServer = Bun.serve({ ...passThrough, ...reuse, idleTimeout, websocket, hostname, port, fetch: withHost });
    // Bun says that it upgraded a request only as upgrade()'s result: this server's is wrapped (the
    // handler's `c.env`, which hono/bun's upgradeWebSocket calls), only when it serves WebSockets.
    if (websocket !== undefined) {
      const upgrade = server.upgrade;
      server.upgrade = function (request, options) {
        const done = upgrade.call(this, request, options);
        if (done) upgraded.add(request);
        return done;
      };
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
      close: () => (stopped ??= Promise.all([webSockets.goAway(), server.stop().finally(() => (settled = true))]).then(() => {})),
      closeIdle() {
        server.closeIdleConnections?.();
        if (stopped === undefined || watching) return;
        watching = true;
        closeLeftIdle();
      },
      // Bun counts a request as pending until its response is written (measured: a 64 MiB body to a
      // client that does not read stays pending until it has read it), so 0 means nothing to lose.
      idleForExit: () => server.pendingRequests === 0 && server.pendingWebSockets === 0,
      closesIdleWithListener: true,
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
    return listening;
  },
  // Served when the client is still connected as the handler returns (an upgrade: served).
  watchDelivery: (_response, request, _bunServer, delivered) => delivered(upgraded.has(request) || !request.signal.aborted),
  ...nodeProcess,
  // process.stdout and process.stderr are built on first use, and building them loads node:stream
  // and Bun's fs streams: ~22 ms of CPU and ~7 MiB of RSS (measured on 1.4.5), which `bun run`
  // never spends. The library's lines go through console, which Bun writes without them; a failed
  // write on a stream the app built is recognised when it arrives (node-process.ts), not listened
  // for: no timer either (~0.2 MiB of RSS per worker).
  // Bun 1.4.5 runs the promise jobs queued in an unhandledRejection listener only once some other
  // work wakes it (a handler's timer, a request): the drain stalled there, 0.6-0.8 s measured with
  // nothing else pending. A timer gives the drain a turn of its own.
  onFatalError: (listener) =>
    watchFatalErrors(
      (error, kind) => void (kind === "unhandledRejection" ? setTimeout(() => listener(error, kind), 0) : listener(error, kind)),
      "recognise",
    ),
  exitWatchdog: exitWatchdog('process.kill(process.pid, "SIGKILL");'),
  // Bun.file reads /proc for the PID 1 check without loading node:fs (~2 MiB of RSS on Bun).
  processOrigin: () => processOriginReading(process.pid, process.ppid, (path) => Bun.file(path).text()),
  // A worker re-runs the entry with the same bun flags and arguments.
  workers: childWorkers(() => ({ file: process.execPath, args: [...process.execArgv, ...process.argv.slice(1)] })),
};

// Bound to this runtime; each is documented where it is defined (ServeGracefully, Lifecycle).
const binding: RuntimeBinding<BunPassThroughOptions> = bindRuntime(runtime, BUN_PASS_THROUGH_KEYS);
export const serveGracefully: ServeGracefully<BunPassThroughOptions> = binding.serveGracefully;
export const lifecycle: Lifecycle = binding.lifecycle;
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;
