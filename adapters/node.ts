/**
 * Node adapter, on @hono/node-server (https://github.com/honojs/node-server) and node:http
 * (https://nodejs.org/api/http.html). Maps http.Server / http2 onto the core, nothing more.
 */
import { createAdaptorServer, type HttpBindings } from "@hono/node-server";
import type { IncomingMessage } from "node:http";
import type { Http2Session } from "node:http2";
import { Server as NetServer, type Socket } from "node:net";
import {
  bindRuntime,
  FIRST_REQUEST_GRACE_MS,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  type RuntimeAdapter,
  type RuntimeBinding,
  type ServeGracefully,
  withConnectionClose,
} from "../src/core.ts";
import { nodeProcess } from "./node-process.ts";

/** @hono/node-server's own options, passed through (e.g. `createServer: http2.createSecureServer`). */
export interface NodePassThroughOptions {
  createServer?: (...args: never[]) => unknown;
  serverOptions?: object;
  overrideGlobalObjects?: boolean;
  autoCleanupIncoming?: boolean;
  websocket?: { server: unknown };
}
const NODE_PASS_THROUGH_KEYS = ["createServer", "serverOptions", "overrideGlobalObjects", "autoCleanupIncoming", "websocket"] as const;

// Headers HTTP/2 forbids; Hono's streamSSE sets some of them and Node's http2 would throw.
const HTTP2_FORBIDDEN = ["connection", "transfer-encoding", "keep-alive", "upgrade", "proxy-connection"];

interface ClosableWebSocket {
  close(code: number, reason: string): void;
  on(event: "close", fn: () => void): void;
}

const isHttp2 = (env: unknown): boolean => (env as HttpBindings | undefined)?.incoming?.httpVersionMajor === 2;

// The last request Node has read on an HTTP/1 socket: its parser's current message, kept until the
// next one (null before the first). Node runs pipelined requests before the previous answer is
// written and queues their responses; a `Connection: close` on any but the last would end the
// socket with the later answers unsent.
const lastRequestOn = (socket: Socket): unknown => (socket as Socket & { parser?: { incoming?: unknown } | null }).parser?.incoming;

/** `Connection: close` only on the last request read on its connection (HTTP/2: GOAWAY rotates). */
function closeConnectionAfter(response: Response, env: unknown): Response {
  const incoming = (env as HttpBindings | undefined)?.incoming;
  if (incoming === undefined || incoming.httpVersionMajor === 2) return response;
  const last = lastRequestOn(incoming.socket);
  return last == null || last === incoming ? withConnectionClose(response) : response;
}

/**
 * Served once Node has written the whole response to the socket ('finish'); cut when the response
 * closes unfinished, or when its socket ends with the response still queued behind another
 * (a pipelined request after a closing answer).
 */
function watchDelivery(_response: Response, request: Request, env: unknown, delivered: (delivered: boolean) => void): void {
  const { incoming, outgoing } = (env as Partial<HttpBindings> | undefined) ?? {};
  if (incoming === undefined || outgoing === undefined || incoming.httpVersionMajor === 2) {
    return delivered(!request.signal.aborted);
  }
  if (outgoing.writableFinished) return delivered(true);
  if (incoming.socket.destroyed) return delivered(false);
  outgoing.once("close", () => delivered(outgoing.writableFinished));
  // A response queued behind another never closes when the socket ends; its request does.
  incoming.once("close", () => {
    if (incoming.socket.destroyed) delivered(outgoing.writableFinished);
  });
}

function forHttp2(response: Response): Response {
  if (!HTTP2_FORBIDDEN.some((name) => response.headers.has(name))) return response;
  const copy = new Response(response.body, response);
  for (const name of HTTP2_FORBIDDEN) copy.headers.delete(name);
  return copy;
}

type AnyServer =
  & NetServer
  & { close(cb?: (err?: Error) => void): AnyServer; closeIdleConnections?(): void; closeAllConnections?(): void }
  // deno-lint-ignore no-explicit-any
  & Record<string, any>;

const runtime: RuntimeAdapter = {
  name: "node",
  listen(handler, { hostname, port, keepAliveTimeout, passThrough }) {
    const custom = passThrough.createServer !== undefined; // https or http2: may need headers stripped
    const fetch = custom
      ? async (request: Request, env: unknown) => {
        const response = await handler(request, env);
        return isHttp2(env) ? forHttp2(response) : response;
      }
      : handler;
    // The host for a request URL when the request names none (HTTP/1.0 may omit Host, and HAProxy's
    // `option httpchk GET /readyz` does): without it @hono/node-server answers 400 before the app
    // or /readyz sees the request. Deno says localhost too; Bun gives the bare path.
    const defaultHost = port === 0 ? "localhost" : `localhost:${port}`;
    const server = createAdaptorServer(
      { ...passThrough, hostname: defaultHost, fetch } as Parameters<typeof createAdaptorServer>[0],
    ) as unknown as AnyServer;
    // Idle keep-alive time (Node closes 1 s after it). A serverOptions.keepAliveTimeout wins.
    // headersTimeout (60 s) stays as is: since Node 18 it times the headers of a request, not
    // the idle time between requests, so slow clients are still cut after it (tested).
    const explicit = (passThrough.serverOptions as { keepAliveTimeout?: number } | undefined)?.keepAliveTimeout;
    // Node's timer takes keepAliveTimeout + 1 s: kept under 2^31-1 ms, or Node warns of an overflow.
    if (explicit === undefined) server.keepAliveTimeout = Math.min(keepAliveTimeout, 2 ** 31 - 1 - 1_000);
    // Sockets are tracked per connection (not per request) so the drain can close the ones that
    // never sent a byte, which Node's closeIdleConnections() leaves open.
    // Each socket with the time it was accepted.
    const sockets = new Map<Socket, number>();
    const sessions = new Set<Http2Session>();
    const upgraded = new WeakSet<Socket>();
    server.on("connection", (socket: Socket) => {
      sockets.set(socket, performance.now());
      socket.once("close", () => sockets.delete(socket));
    });
    server.on("session", (session: Http2Session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    // WebSockets (@hono/node-server's `websocket: { server: wss }`): tracked to close with 1001.
    const webSockets = new Set<ClosableWebSocket>();
    const wss = (passThrough.websocket as { server?: unknown } | undefined)?.server as {
      on?(event: "connection", fn: (ws: ClosableWebSocket) => void): void;
    } | undefined;
    if (wss !== undefined) {
      server.prependListener("upgrade", (_req: IncomingMessage, socket: Socket) => upgraded.add(socket));
      wss.on?.("connection", (ws) => {
        webSockets.add(ws);
        ws.on("close", () => webSockets.delete(ws));
      });
    }

    // How long a plain HTTP/1 socket that has not sent its first request yet may still send it (0: no
    // wait). Custom servers (https, http2) are left out: their 'connection' sockets are raw TCP.
    const firstRequestDue = (socket: Socket): number => {
      if (custom || socket.destroyed || lastRequestOn(socket) != null || upgraded.has(socket)) return 0;
      return Math.max(0, sockets.get(socket)! + FIRST_REQUEST_GRACE_MS - performance.now());
    };

    let closed: Promise<void> | undefined;
    const listening: ListeningServer = {
      port,
      hostname,
      close: () =>
        closed ??= new Promise<void>((resolve) => {
          // net.Server's close only stops listening; http's would also close idle keep-alive
          // connections at once and cut a busy client between two requests. closeIdle() does that
          // later, when no handler runs.
          NetServer.prototype.close.call(server, () => resolve());
          // HTTP/2: GOAWAY, open streams finish, then the session closes.
          for (const session of sessions) session.close();
          for (const ws of webSockets) ws.close(1001, "server shutting down");
        }),
      closeIdle() {
        // http's close(): closes idle keep-alive connections and clears its own timer.
        server.close();
        for (const socket of sockets.keys()) {
          // No response in progress (never sent a byte, or half a request) and not a WebSocket.
          // WebSockets close by their 1001. A custom server (http2, https) is left alone: its
          // 'connection' sockets are the raw TCP under TLS and HTTP/2 sessions, which show no
          // response in progress; sessions close by GOAWAY.
          if (socket.destroyed || custom || upgraded.has(socket)) continue;
          const due = firstRequestDue(socket);
          if (due > 0) {
            // Just accepted: its request may be on the way. Closed later if it is still idle then.
            setTimeout(() => (socket as Socket & { _httpMessage?: unknown })._httpMessage == null && socket.destroy(), due).unref();
            continue;
          }
          if ((socket as Socket & { _httpMessage?: unknown })._httpMessage == null) socket.destroy();
        }
      },
      responsesDone: () =>
        new Promise<void>((resolve) => {
          // Waits for every socket with a response in progress (a socket's _httpMessage is the
          // response it is writing; 'close' fires once it is done), and for every socket accepted
          // too recently to have sent its first request (its request, or its time, ends the wait).
          const next = () => {
            // Only sockets accepted within the grace can still be waiting for a first request:
            // checking those alone took the scan of 10,000 idle sockets from ~6 ms to ~2.5 ms.
            const recent = performance.now() - FIRST_REQUEST_GRACE_MS;
            for (const [socket, acceptedAt] of sockets) {
              const response = (socket as Socket & { _httpMessage?: NodeJS.EventEmitter | null })._httpMessage;
              if (response) {
                if (!socket.destroyed) return void response.once("close", next);
              } else if (acceptedAt > recent) {
                const due = firstRequestDue(socket);
                if (due > 0) return waitForRequest(socket, due, next);
              }
            }
            if (sessions.size > 0) return void closed!.then(() => resolve());
            resolve();
          };
          next();
        }),
      forceClose() {
        server.closeAllConnections?.();
        for (const session of sessions) session.destroy();
        for (const socket of sockets.keys()) socket.destroy();
        return true;
      },
      openConnections: () => sockets.size,
      keepAlive: explicit === undefined ? undefined : { timeoutMs: explicit, note: "serverOptions.keepAliveTimeout given" },
    };
    // Wakes `then` once a request arrives on any socket, this socket closes, or `ms` pass.
    const waitForRequest = (socket: Socket, ms: number, then: () => void): void => {
      const wake = () => {
        clearTimeout(timer);
        server.off("request", wake);
        socket.off("close", wake);
        then();
      };
      const timer = setTimeout(wake, ms);
      server.once("request", wake);
      socket.once("close", wake);
    };
    return new Promise<ListeningServer>((resolve, reject) => {
      const onError = (error: Error) => {
        server.off("listening", onListening);
        reject(error);
      };
      const onListening = () => {
        server.off("error", onError);
        const address = server.address();
        if (typeof address === "object" && address !== null) listening.port = address.port;
        resolve(listening);
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(port, hostname);
    });
  },
  closeConnectionAfter,
  watchDelivery,
  ...nodeProcess,
};

const binding: RuntimeBinding<NodePassThroughOptions> = bindRuntime<NodePassThroughOptions>(runtime, NODE_PASS_THROUGH_KEYS);

/** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
/** The process-wide lifecycle every server joins unless told otherwise (one per process, shared by every copy of this package). */
export const lifecycle: Lifecycle = binding.lifecycle;
/**
 * Serve a Hono app (or any fetch handler) on Node, with graceful shutdown: on SIGTERM or SIGINT,
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
 *   `lifecycle` @default the process-wide one · plus @hono/node-server's own options (`createServer`, `serverOptions`, `websocket`, ...).
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
export const serveGracefully: ServeGracefully<NodePassThroughOptions> = binding.serveGracefully;
/** End a stream (hono/streaming's streamSSE) cleanly when the drain closes the listeners (after the drain delay). */
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;

export * from "../src/exports.ts";
