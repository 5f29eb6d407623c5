/**
 * Node adapter, on @hono/node-server (https://github.com/honojs/node-server) and node:http
 * (https://nodejs.org/api/http.html). Maps http.Server / http2 onto the core, nothing more.
 */
import type { createAdaptorServer as CreateAdaptorServer, HttpBindings } from "@hono/node-server";
import type { IncomingMessage } from "node:http";
import type { Http2ServerResponse, Http2Session } from "node:http2";
import { Server as NetServer, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import {
  asksToClose as closeRequested,
  bindRuntime,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  type ListenOptions,
  REQUEST_GRACE_MS,
  type RuntimeAdapter,
  type RuntimeBinding,
  type RuntimeHandler,
  type ServeGracefully,
  withConnectionClose,
} from "../src/core.ts";
import { Http2Sessions, peerOf } from "./node-http2.ts";
import { type ClosableWebSocket, OpenWebSockets } from "./web-sockets.ts";
import { nodeProcess } from "./node-process.ts";
import { nodeExitWatchdog } from "./exit-watchdog.ts";
import { nodeWorkers } from "./node-workers.ts";
import { GIVEN_BACK_MAX, handoffWanted, stopReading, takeConnections, type TakenListener } from "./node-handoff.ts";
export * from "../src/exports.ts";

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

/** A `ws` WebSocket, as far as the drain uses it. */
interface WsWebSocket extends ClosableWebSocket {
  on(event: "close", fn: () => void): void;
}

const isHttp2 = (env: unknown): boolean => (env as HttpBindings | undefined)?.incoming?.httpVersionMajor === 2;

// The last request Node has read on each socket, set as each one reaches the app (in the order Node
// parses them). Node runs pipelined requests before the previous answer is written and queues
// their responses; a `Connection: close` on any but the last would end the socket with the later
// answers unsent (their handlers already ran). The parser's own `incoming` will not do: it is null
// again once Node has read everything, as after a hold.
const LAST_REQUEST = Symbol("serve-gracefully.lastRequest");
/**
 * Set on a socket whose closing answer has been handed over. A request Node reads on one after that
 * is not run (RFC 9112 9.6: a server that sends `close` must not process further requests on that
 * connection): Node would run its handler and then never send its answer, as its socket ends
 * after the closing one. The client sees no answer and may retry it, since nothing ran.
 */
const CLOSING = Symbol("serve-gracefully.closing");
/**
 * Both are fields of the socket, not a WeakMap and a WeakSet (whose entries each garbage collection
 * must visit; wrk opening a connection per request, three 4 s profiles a side: 182-221 ms of
 * collection with them, 124-190 without, overlapping; bare @hono/node-server 87-171). The socket
 * keeps its last request alive exactly as the WeakMap did.
 */
type NotedSocket = Socket & { [LAST_REQUEST]?: IncomingMessage; [CLOSING]?: true };
const noted = (socket: Socket) => socket as NotedSocket;
/** What a request read after its connection's closing answer gets: Node never writes it. */
const notRun = () => new Response(null, { status: 503, headers: { connection: "close" } });

/**
 * `Connection: close` only on the last request read on its connection (HTTP/2: GOAWAY rotates),
 * decided a microtask later: a handler that answers at once runs while Node's parser is still in
 * the middle of the data that came with its request, before the pipelined requests behind it.
 */
function closeConnectionAfter(response: Response, env: unknown): Response | Promise<Response> {
  const { incoming, outgoing } = (env as Partial<HttpBindings> | undefined) ?? {};
  if (incoming === undefined || incoming.httpVersionMajor === 2) return response;
  // The client asked to close (or spoke HTTP/1.0 without keep-alive): Node closes after this
  // response by itself, so no `Connection` header is set (a copy of @hono/node-server's light
  // response, on the drain's busiest path); only a body of declared length is bounded.
  if (outgoing?.shouldKeepAlive === false) return endsAtItsLength(response);
  return Promise.resolve().then(() => {
    const last = noted(incoming.socket)[LAST_REQUEST];
    if (last !== undefined && last !== incoming) return response;
    noted(incoming.socket)[CLOSING] = true;
    return endsAtItsLength(withConnectionClose(response));
  });
}

/**
 * A closing answer whose body has a Content-Length ends with its last declared byte, not when the
 * app's stream next says done: a file stream (serveStatic) needs one more read of the disk for that,
 * and a client told to close, having every byte, closed first. Node then saw a response never ended
 * and it was counted cut (exit 1 from a clean drain). The stream is read once more afterwards, so
 * that it ends as it would have (cancelled only if it had more than it declared).
 */
function endsAtItsLength(response: Response): Response {
  const length = Number(response.headers.get("content-length") ?? Number.NaN);
  if (!Number.isSafeInteger(length) || length <= 0) return response;
  const body = response.body;
  if (body === null) return response;
  const source = body.getReader();
  let left = length;
  const bounded = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await source.read();
      if (done) return controller.close();
      controller.enqueue(value);
      // Bytes only: a chunk of another kind (a string Node writes as it is) leaves the end to the app.
      left -= ArrayBuffer.isView(value) ? value.byteLength : 0;
      if (left > 0) return;
      controller.close();
      void source.read().then(({ done }) => done ? undefined : source.cancel()).catch(() => {});
    },
    cancel: (reason) => source.cancel(reason),
  });
  return new Response(bounded, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * Whether this request's connection carries no next request: Node has decided so already (the
 * client's `Connection: close`, or HTTP/1.0 without keep-alive), without the light request's
 * `headers` being read (which would copy it). HTTP/2 streams never ask.
 */
function asksToClose(request: Request, env: unknown): boolean {
  const outgoing = (env as Partial<HttpBindings> | undefined)?.outgoing as { shouldKeepAlive?: boolean } | undefined;
  if (outgoing === undefined) return closeRequested(request);
  return outgoing.shouldKeepAlive === false;
}

/**
 * Served once Node has written the whole response to the socket ('finish'); cut when the response
 * closes unfinished, or when its socket ends with the response still queued behind another
 * (a pipelined request after a closing answer).
 */
function watchDelivery(_response: Response, request: Request, env: unknown, delivered: (delivered: boolean) => void): void {
  const { incoming, outgoing } = (env as Partial<HttpBindings> | undefined) ?? {};
  if (incoming === undefined || outgoing === undefined) return delivered(!request.signal.aborted);
  if (incoming.httpVersionMajor === 2) {
    // An HTTP/2 stream: served once its whole response is written to the session, as for HTTP/1;
    // cut when the stream closes before that (a stream cut at the deadline, a client's RST_STREAM).
    // Counted at the handover instead, a stream begun in the drain and cut at the deadline was served.
    const response = outgoing as unknown as Http2ServerResponse;
    const stream = response.stream;
    // A stream the client reset is ended by Node (writableFinished) though nothing was sent.
    const sent = () => response.writableFinished && !stream.aborted;
    if (stream.destroyed) return delivered(sent());
    response.once("close", () => delivered(sent()));
    return;
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

/**
 * One http (or https, http2) server as the drain drives it, on @hono/node-server's adaptor server
 * (as srvx's NodeServer wraps node:http): it tracks each connection so that the drain can close
 * the ones that never sent a byte (Node's closeIdleConnections() leaves them open), HTTP/2
 * sessions, and WebSockets.
 */
class NodeServer implements ListeningServer {
  port: number;
  readonly hostname: string;
  readonly keepAlive: ListeningServer["keepAlive"];
  readonly #server: AnyServer;
  /** A createServer given (https, http2): its 'connection' sockets are the raw TCP under TLS. */
  readonly #custom: boolean;
  /** Each socket with the time it was accepted, or of the last request it carried (plain HTTP/1). */
  readonly #sockets = new Map<Socket, number>();
  readonly #upgraded = new WeakSet<Socket>();
  readonly #sessions = new Http2Sessions();
  readonly #webSockets = new OpenWebSockets();
  #closed: Promise<void> | undefined;
  #wentAway: Promise<void> | undefined;
  /** A worker's: its connections come from the primary, which listens (node-handoff.ts). */
  #taken: TakenListener | undefined;
  /** Called once the last socket has closed (a worker's close waits for it, as net.Server's does). */
  readonly #emptied: { done?: () => void } = {};
  /** A socket's 'close' listener: forgets it (one function for every socket). */
  readonly #forget: (this: Socket) => void;
  /** A worker's idle sockets on their way back to the primary, for another worker (node-handoff.ts). */
  readonly #givingBack = new Set<Socket>();
  /** Whether the primary takes idle connections back (said in its answer to the worker's stop). */
  #takesBack = false;
  /** http's own close, once the sockets given back are on their way (it would close them). */
  #closeServerAfterGivingBack = false;
  /** Whether the drain's held answers have been taken into account (once). */
  #answersHeldSeen = false;
  /** A pass of closeIdle() is on its way: another call joins it. */
  #passPending = false;
  /** Responses in progress at a pass, each watched once (#whenAnswered). */
  readonly #revisiting = new WeakSet<object>();
  /**
   * A custom server's HTTP/1 TLS sockets (HTTPS, or HTTP/2's allowHTTP1), each with the time it was
   * accepted or of its last request, as #sockets for plain HTTP: its 'connection' sockets are the
   * raw TCP under TLS, which show no response (a stream in flight at SIGTERM was cut by the exit,
   * exit 0, cut 0) and no request (http's close reset a client's next request a moment after its answer).
   */
  readonly #tlsSockets = new Map<Socket, number>();
  /** A socket's 'close' listener there: forgets it (one function for every socket). */
  readonly #forgetTls = (() => {
    const tlsSockets = this.#tlsSockets;
    return function (this: Socket) {
      tlsSockets.delete(this);
    };
  })();

  constructor(
    createAdaptorServer: typeof CreateAdaptorServer,
    handler: RuntimeHandler,
    { hostname, port, keepAliveTimeout, passThrough }: ListenOptions,
  ) {
    this.port = port;
    this.hostname = hostname;
    this.#custom = passThrough.createServer !== undefined; // https or http2: may need headers stripped
    const fetch = this.#custom
      ? async (request: Request, env: unknown) => {
        const { incoming } = env as HttpBindings;
        if (incoming.httpVersionMajor !== 2) {
          const socket = noted(incoming.socket);
          if (socket[CLOSING]) return notRun();
          const known = this.#tlsSockets.size;
          this.#tlsSockets.set(socket, performance.now());
          // New here: a plain HTTP/1 socket of a createServer given (http.createServer), whose
          // 'secureConnection' never came to forget it at its close.
          if (this.#tlsSockets.size > known) socket.on("close", this.#forgetTls);
          socket[LAST_REQUEST] = incoming as IncomingMessage;
        }
        const response = await handler(request, env);
        return isHttp2(env) ? forHttp2(response) : response;
      }
      : (request: Request, env: unknown) => {
        // The time of each request, so that the drain knows which idle connections were busy a
        // moment ago and may be about to send their next request (one Map write a request).
        const { incoming } = env as HttpBindings;
        const socket = noted(incoming.socket);
        if (socket[CLOSING]) return notRun();
        this.#sockets.set(socket, performance.now());
        socket[LAST_REQUEST] = incoming as IncomingMessage;
        return handler(request, env);
      };
    // The host for a request URL when the request names none (HTTP/1.0 may omit Host, and HAProxy's
    // `option httpchk GET /readyz` does): without it @hono/node-server answers 400 before the app
    // or /readyz sees the request. Deno says localhost too; Bun gives the bare path.
    const defaultHost = port === 0 ? "localhost" : `localhost:${port}`;
    const server = createAdaptorServer(
      { ...passThrough, hostname: defaultHost, fetch } as Parameters<typeof createAdaptorServer>[0],
    ) as unknown as AnyServer;
    this.#server = server;
    // Idle keep-alive time (Node closes 1 s after it). A serverOptions.keepAliveTimeout wins.
    // headersTimeout (60 s) stays as is: since Node 18 it times the headers of a request, not
    // the idle time between requests, so slow clients are still cut after it (tested).
    const explicit = (passThrough.serverOptions as { keepAliveTimeout?: number } | undefined)?.keepAliveTimeout;
    // Node's timer takes keepAliveTimeout + 1 s: kept under 2^31-1 ms, or Node warns of an overflow.
    if (explicit === undefined) server.keepAliveTimeout = Math.min(keepAliveTimeout, 2 ** 31 - 1 - 1_000);
    this.keepAlive = explicit === undefined ? undefined : { timeoutMs: explicit, note: "serverOptions.keepAliveTimeout given" };
    // One listener for every socket's close (a socket closes once: `on`, no once-wrapper either).
    const sockets = this.#sockets;
    const givingBack = this.#givingBack;
    const emptied = this.#emptied;
    const forget = this.#forget = function (this: Socket) {
      sockets.delete(this);
      if (sockets.size === 0 && givingBack.size === 0) emptied.done?.();
    };
    server.on("connection", (socket: Socket) => {
      sockets.set(socket, performance.now());
      socket.on("close", forget);
    });
    server.on("session", (session: Http2Session) => this.#sessions.add(session));
    if (this.#custom) {
      const forgetTls = this.#forgetTls;
      const tlsSockets = this.#tlsSockets;
      server.on("secureConnection", (socket: TLSSocket) => {
        if (socket.alpnProtocol === "h2") return; // an HTTP/2 session: closed by its GOAWAY
        tlsSockets.set(socket, performance.now());
        socket.on("close", forgetTls);
      });
    }
    // WebSockets (@hono/node-server's `websocket: { server: wss }`): closed with 1001 at the drain.
    const wss = (passThrough.websocket as { server?: unknown } | undefined)?.server as {
      on?(event: "connection", fn: (ws: WsWebSocket) => void): void;
    } | undefined;
    if (wss !== undefined) {
      server.prependListener("upgrade", (_req: IncomingMessage, socket: Socket) => this.#upgraded.add(socket));
      wss.on?.("connection", (ws) => {
        this.#webSockets.opened(ws);
        // 'close' comes once the closing handshake is done and the TCP connection has ended.
        ws.on("close", () => this.#webSockets.closed(ws));
      });
    }
  }

  /** Resolves once listening, with the port known; rejects with Node's error when it cannot. */
  listen(): Promise<this> {
    const server = this.#server;
    if (handoffWanted()) {
      const listening = (port: number) => {
        this.port = port;
        server.emit("listening"); // http starts its connection tracking (closeIdleConnections, timeouts) on it
      };
      const take = (socket: Socket, kept: boolean) => kept ? this.#takeKept(socket) : this.#take(socket);
      return takeConnections(this.hostname, this.port, take, listening).then((taken) => {
        this.#taken = taken;
        return this;
      });
    }
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        server.off("listening", onListening);
        reject(error);
      };
      const onListening = () => {
        server.off("error", onError);
        const address = server.address();
        if (typeof address === "object" && address !== null) this.port = address.port;
        resolve(this);
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(this.port, this.hostname);
    });
  }

  /**
   * A connection another worker gave back, idle between two requests. Handed to http now, it would
   * count as a new connection that has not sent its headers: a 408 at headersTimeout (60 s, under
   * the keep-alive timeout promised), or no timeout at all on Node 26. So it goes to http with the
   * first bytes of its next request, and until then closes quietly after the keep-alive timeout.
   */
  #takeKept(socket: Socket): void {
    const server = this.#server;
    this.#sockets.set(socket, performance.now());
    socket.on("close", this.#forget);
    const idleEnd = () => socket.destroy(); // the timeout, the client's close or an error: as http's keep-alive
    const onData = (chunk: Buffer) => {
      socket.off("data", onData).off("timeout", idleEnd).off("end", idleEnd).off("error", idleEnd);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk); // read again by http's parser, before anything read after it
      this.#take(socket);
      socket.resume();
    };
    socket.setTimeout(Math.min(server.keepAliveTimeout, 2 ** 31 - 1));
    socket.on("data", onData).once("timeout", idleEnd).once("end", idleEnd).once("error", idleEnd);
  }

  /** A connection the primary handed over, set up as net.Server's own accept does. */
  #take(socket: Socket): void {
    const server = this.#server;
    if (server.maxConnections != null && this.#sockets.size >= server.maxConnections) return void socket.destroy();
    if (server.noDelay) socket.setNoDelay(true);
    if (server.keepAlive) socket.setKeepAlive(true, server.keepAliveInitialDelay * 1_000);
    server.emit("connection", socket);
  }

  close(): Promise<void> {
    return this.#closed ??= new Promise<void>((resolve) => {
      // net.Server's close only stops listening; http's would also close idle keep-alive
      // connections at once and cut a busy client between two requests. closeIdle() does that
      // later, when no handler runs. A worker's: once the primary has handed over its last
      // connection, then, as net.Server's, once every connection has closed.
      if (this.#taken === undefined) NetServer.prototype.close.call(this.#server, () => resolve());
      else {
        void this.#taken.stop().then(() => {
          if (this.#sockets.size === 0 && this.#givingBack.size === 0) return resolve();
          this.#emptied.done = resolve;
        });
      }
      this.#wentAway = this.#sessions.goAway();
      void this.#webSockets.goAway();
    });
  }

  /**
   * HTTP/2: a session stops accepting streams with its GOAWAY; the held responses go after it. A
   * worker's: once the primary has stopped handing it connections (the last one's, once the
   * primary's listener has closed): a client answered before that would reconnect into the
   * listener's accept queue, and be reset as it closes.
   */
  stoppedAccepting(): Promise<void> {
    const wentAway = this.#wentAway ?? Promise.resolve();
    return this.#taken === undefined ? wentAway : Promise.all([wentAway, this.#taken.stop()]).then(() => {});
  }

  closeIdle(answersHeld = false): void {
    if (answersHeld) this.#answeredNow();
    // After one I/O poll (the drain calls this from its own turn, which may come late on a busy
    // event loop): a request that reached an idle connection meanwhile is read, and makes it busy,
    // instead of being reset unread by the close (a reload's pooled keep-alive clients saw that).
    // Two immediates: called from an I/O callback, the first runs before the next poll.
    if (this.#passPending) return;
    this.#passPending = true;
    const pass = () =>
      setImmediate(() =>
        setImmediate(() => {
          this.#passPending = false;
          this.#closeIdleNow();
        })
      );
    // A worker's: once the primary has handed over its last connection (one handed over later
    // would be idle, unread, at http's close of idle connections).
    if (this.#taken === undefined) pass();
    else {
      void this.#taken.stop().then((takesBack) => {
        this.#takesBack = takesBack;
        pass();
      });
    }
  }

  /** The sockets that carry HTTP/1 requests, each with the time it was accepted or of its last request. */
  get #http1Sockets(): Map<Socket, number> {
    return this.#custom ? this.#tlsSockets : this.#sockets;
  }

  /**
   * The sockets the idle close looks at, each with the time it was accepted or of its last request:
   * the HTTP/1 ones, and a custom server's connections with no session yet (#withoutSession: a
   * worker's close waits for every connection, and 4 such held a drain to its deadline, exit 1).
   */
  #closeCandidates(): Iterable<[Socket, number]> {
    if (!this.#custom) return this.#sockets;
    const unserved = this.#withoutSession();
    return unserved.length === 0 ? this.#tlsSockets : [...this.#tlsSockets, ...unserved];
  }

  /**
   * A custom server's connections that carry nothing yet, each with the time its grace counts from:
   * the ones that never sent a byte (the grace from their accept), and those stalled in their TLS
   * handshake (HANDSHAKE_GRACE_MS from their accept: a client that never sent its Finished held a
   * worker's close to the deadline). A TLS socket shows itself only once secure, by its own object:
   * found by its peer's address and port, the raw socket's too.
   */
  #withoutSession(): [Socket, number][] {
    const raw = [...this.#sockets];
    const sent = raw.reduce((count, [socket]) => count + (socket.bytesRead > 0 ? 1 : 0), 0);
    // As many sessions as raw connections that sent a byte: none is in its handshake.
    if (sent <= this.#tlsSockets.size + this.#sessions.size) return raw.filter(([socket]) => socket.bytesRead === 0);
    const secure = new Set<string>();
    for (const socket of this.#tlsSockets.keys()) secure.add(peerOf(socket));
    for (const peer of this.#sessions.peers()) secure.add(peer);
    const later = HANDSHAKE_GRACE_MS - REQUEST_GRACE_MS;
    return raw.flatMap(([socket, acceptedAt]): [Socket, number][] =>
      socket.bytesRead === 0 ? [[socket, acceptedAt]] : secure.has(peerOf(socket)) ? [] : [[socket, acceptedAt + later]]
    );
  }

  #closeIdleNow(): void {
    // A worker stopping while others serve on: idle plain connections go to another worker, unread
    // (TLS ones cannot: the session's state stays here). HTTP/2 sessions close by their GOAWAY.
    const movable = this.#takesBack && !this.#custom ? this.#movable() : new Set<Socket>();
    const sockets = this.#http1Sockets;
    let later = 0;
    for (const [socket, activeAt] of this.#closeCandidates()) {
      // Not a WebSocket (WebSockets close by their 1001).
      if (socket.destroyed || this.#upgraded.has(socket)) continue;
      const response = responseOn(socket);
      if (response != null) {
        // Looked at again once answered, as answered then (its client may send its next request at once).
        this.#whenAnswered(response, () => {
          if (!sockets.has(socket) || socket.destroyed) return;
          sockets.set(socket, performance.now());
          this.closeIdle();
        });
        continue;
      }
      // No response in progress: never sent a byte, half a request, or idle between requests.
      if (movable.has(socket)) {
        this.#giveBack(socket);
        continue;
      }
      const due = this.#nextRequestDue(socket, activeAt);
      // Accepted or answered a moment ago: its request may be on the way. Looked at again later.
      if (due > 0) later = Math.max(later, due);
      else socket.destroy();
    }
    // http's close() closes idle keep-alive connections and clears its own timer: once none is
    // recent, and none given back is still on its way (it would close those too).
    if (later > 0) {
      // After the timer, one I/O poll first (closeIdle): a request that came while the event loop was late is read.
      setTimeout(() => this.closeIdle(), later).unref();
    } else if (this.#givingBack.size > 0) this.#closeServerAfterGivingBack = true;
    else this.#server.close();
  }

  /**
   * The drain held answers until now: each connection counts as answered now, so an idle one gets
   * the grace for its next request. A client whose answers were held 100-250 ms (a whole service's
   * drain waits for a reload's old worker's hold) sent its next requests on pooled connections
   * idle since before the hold, as they were being closed (a probe: 1-4 reset in 16 of 34 stops).
   */
  #answeredNow(): void {
    if (this.#answersHeldSeen) return;
    this.#answersHeldSeen = true;
    const now = performance.now();
    const sockets = this.#http1Sockets;
    for (const socket of sockets.keys()) sockets.set(socket, now);
  }

  /**
   * Runs `then` once `response` is done, at most once per response however many passes see it. A
   * connection answering at a pass is looked at again then: an answer begun before the drain carries
   * no `Connection: close`, and its connection stayed open, idle, holding the drain to its deadline
   * (a worker's: a stream in flight at a reload or SIGTERM made every drain a forced one, exit 1).
   */
  #whenAnswered(response: NodeJS.EventEmitter, then: () => void): void {
    if (this.#revisiting.has(response)) return;
    this.#revisiting.add(response);
    response.once("close", then);
  }

  /**
   * The idle sockets to give back: no response in progress and not half a request (nothing read
   * yet, or http's parser between two messages), not a WebSocket; the GIVEN_BACK_MAX most recently
   * busy (the ones a pool reuses first), the rest close as in a drain.
   */
  #movable(): Set<Socket> {
    const idle = idleBetweenRequests(this.#server);
    const candidates = [...this.#sockets].filter(([socket]) =>
      !socket.destroyed && !this.#upgraded.has(socket) && responseOn(socket) == null && (socket.bytesRead === 0 || idle.has(socket))
    );
    if (candidates.length > GIVEN_BACK_MAX) candidates.sort((a, b) => b[1] - a[1]).length = GIVEN_BACK_MAX;
    return new Set(candidates.map(([socket]) => socket));
  }

  /**
   * Hands an idle socket back to the primary, unread: it stops reading now (what the client sends
   * meanwhile waits in the kernel for the next worker) and leaves http's timers. Closed if it cannot go.
   */
  #giveBack(socket: Socket): void {
    this.#sockets.delete(socket);
    this.#givingBack.add(socket);
    socket.setTimeout(0); // http's keep-alive timeout would close it on the way
    const settled = (sent: boolean) => {
      if (!sent) socket.destroy();
      this.#givingBack.delete(socket);
      if (this.#givingBack.size > 0) return;
      if (this.#closeServerAfterGivingBack) this.#server.close();
      if (this.#sockets.size === 0) this.#emptied.done?.();
    };
    if (!stopReading(socket)) return settled(false);
    void this.#taken!.giveBack(socket).then(settled);
  }

  /**
   * Waits for every socket with a response in progress ('close' fires on the response once it is
   * written), for every idle socket accepted or answered too recently to have sent its next request
   * (a request, or the time, ends the wait), for HTTP/2 sessions, and for the WebSockets' closing
   * handshakes.
   */
  responsesDone(answersHeld = false): Promise<void> {
    if (answersHeld) this.#answeredNow();
    return new Promise<void>((resolve) => {
      const next = () => {
        // Only sockets active within the grace can still be about to send a request: checking
        // those alone took the scan of 10,000 idle sockets from ~6 ms to ~2.5 ms.
        const recent = performance.now() - REQUEST_GRACE_MS;
        for (const [socket, activeAt] of this.#http1Sockets) {
          const response = responseOn(socket);
          if (response) {
            if (!socket.destroyed) return void response.once("close", next);
          } else if (activeAt > recent) {
            const due = this.#nextRequestDue(socket, activeAt);
            if (due > 0) return this.#waitForRequest(socket, due, next);
          }
        }
        if (this.#sessions.size > 0) return void this.#closed!.then(() => resolve());
        void this.#webSockets.whenAllClosed().then(resolve);
      };
      next();
    });
  }

  forceClose(): boolean {
    this.#server.closeAllConnections?.();
    this.#sessions.destroy();
    for (const socket of this.#sockets.keys()) socket.destroy();
    return true;
  }

  openConnections(): number {
    return this.#sockets.size;
  }

  /** How long an idle HTTP/1 socket, accepted or answered a moment ago, may still send a request (0: no wait). */
  #nextRequestDue(socket: Socket, activeAt: number): number {
    if (socket.destroyed || this.#upgraded.has(socket)) return 0;
    return Math.max(0, activeAt + REQUEST_GRACE_MS - performance.now());
  }

  /** Wakes `then` once a request arrives on any socket, this socket closes, or `ms` pass. */
  #waitForRequest(socket: Socket, ms: number, then: () => void): void {
    let woken = false;
    const wake = () => {
      if (woken) return;
      woken = true;
      clearTimeout(timer);
      this.#server.off("request", wake);
      socket.off("close", wake);
      then();
    };
    // After the timer, one I/O poll first (timers run before it): a request that came while the
    // event loop was late is read, and wakes this wait as a request, before the socket counts as idle.
    const timer = setTimeout(() => setImmediate(wake), ms);
    this.#server.once("request", wake);
    socket.once("close", wake);
  }
}

/**
 * The sockets whose HTTP parser is between two messages (http's own list, which closeIdleConnections()
 * reads; Node >= 18.2). Empty where Node keeps no such list: then only sockets that read nothing count.
 */
function idleBetweenRequests(server: AnyServer): Set<Socket> {
  const key = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === "http.server.connections");
  const list = key === undefined ? undefined : (server as unknown as Record<symbol, { idle?(): { socket?: Socket }[] }>)[key];
  const idle = new Set<Socket>();
  for (const parser of list?.idle?.() ?? []) if (parser.socket !== undefined) idle.add(parser.socket);
  return idle;
}

/**
 * How long after its accept a connection may still be in its TLS handshake once the drain has begun
 * (Node's own handshakeTimeout is 120 s). A handshake takes two round trips (TLS 1.2): 5 s leaves a
 * client 2.5 s of round trip; 1 s cut one with 600 ms (a review's experiment: EPIPE, where the build
 * before answered it 200).
 */
const HANDSHAKE_GRACE_MS = 5_000;

/** The response a socket is writing (its _httpMessage), if any. */
const responseOn = (socket: Socket) => (socket as Socket & { _httpMessage?: NodeJS.EventEmitter | null })._httpMessage;

const runtime: RuntimeAdapter = {
  name: "node",
  // @hono/node-server is loaded by the first listen, not with this module: the primary of `workers`
  // serves nothing, and importing it (node:http, its Request and Response) costs a primary ~6 MiB.
  listen: async (handler, options) => {
    const { createAdaptorServer } = await import("@hono/node-server").catch((error: unknown) => {
      // Its own message names a module (`hono/ws`'s export, the package 'hono') but not who wanted it.
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(
        `@hono/node-server, which serves on Node, did not load (it needs hono, the peer dependency in package.json, installed beside it in that range): ${why}`,
        {
          cause: error,
        },
      );
    });
    return new NodeServer(createAdaptorServer, handler, options).listen();
  },
  closeConnectionAfter,
  asksToClose,
  watchDelivery,
  ...nodeProcess,
  exitWatchdog: nodeExitWatchdog,
  workers: nodeWorkers,
};

// Bound to this runtime; each is documented where it is defined (ServeGracefully, Lifecycle).
const binding: RuntimeBinding<NodePassThroughOptions> = bindRuntime(runtime, NODE_PASS_THROUGH_KEYS);
export const serveGracefully: ServeGracefully<NodePassThroughOptions> = binding.serveGracefully;
export const lifecycle: Lifecycle = binding.lifecycle;
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;
