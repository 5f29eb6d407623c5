/**
 * Deno adapter, on Deno.serve (https://docs.deno.com/api/deno/~/Deno.serve). Maps the Deno server
 * and signal listeners onto the core, nothing more.
 */
import { connectToPrimary, DenoWorkerChannels, type DenoWorkersApi } from "./deno-workers.ts";
import {
  asksToClose,
  bindRuntime,
  type Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  onEachFatalKind,
  processOriginReading,
  type RuntimeAdapter,
  type RuntimeBinding,
  type ServeGracefully,
  type ShutdownSignal,
  type WorkersAdapter,
} from "../src/core.ts";
import { exitWatchdog } from "./exit-watchdog.ts";
import { type ClosableWebSocket, OpenWebSockets } from "./web-sockets.ts";
export * from "../src/exports.ts";

/** The slice of the Deno namespace this adapter uses (typed here so tsc needs no Deno types). */
interface DenoApi extends DenoWorkersApi {
  serve(
    options: Record<string, unknown>,
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void>; finished: Promise<void> };
  upgradeWebSocket(request: Request, options?: unknown): { socket: DenoWebSocket; response: Response };
  addSignalListener(signal: ShutdownSignal, listener: () => void): void;
  removeSignalListener(signal: ShutdownSignal, listener: () => void): void;
  exit(code: number): never;
  pid: number;
  ppid: number;
  readTextFileSync(path: string): string;
  readTextFile(path: string): Promise<string>;
  permissions: { querySync(descriptor: { name: string; path?: string }): { state: string } };
  execPath(): string;
  mainModule: string;
  args: string[];
  build: { os: string };
}
interface DenoWebSocket extends ClosableWebSocket {
  addEventListener(type: "close" | "open", listener: () => void, options?: { once: true }): void;
}
const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
const killAfter = exitWatchdog('Deno.kill(Deno.pid, "SIGKILL");');

/** Deno.serve's own options, passed through (`c.env` stays Deno's handler info). */
export interface DenoPassThroughOptions {
  cert?: string;
  key?: string;
  reusePort?: boolean;
}
const DENO_PASS_THROUGH_KEYS = ["cert", "key", "reusePort"] as const;

/** How long the held answers wait at most for shutdown() to be called (it waits for body readers). */
const SHUTDOWN_WAIT_MAX_MS = 500;
/** Methods whose requests carry no body: every other one (POST, PUT, WebDAV's, custom) may. */
const BODILESS = new Set(["GET", "HEAD", "TRACE"]);

/** The open WebSockets of the server each GET request came to: the one it may upgrade to joins them. */
const webSocketsOf = new WeakMap<Request, OpenWebSockets>();
let upgradesTracked = false;

/**
 * Deno shows a WebSocket only to the code that upgrades the request (hono/deno's upgradeWebSocket),
 * and shutdown() drops open ones without waiting for the client's close frame: Deno.upgradeWebSocket
 * is wrapped, once, so that each server knows its WebSockets and closes them itself first.
 */
function trackUpgrades(): void {
  if (upgradesTracked) return;
  upgradesTracked = true;
  const upgrade = Deno.upgradeWebSocket;
  Deno.upgradeWebSocket = (request, options) => {
    const upgraded = upgrade.call(Deno, request, options);
    const webSockets = webSocketsOf.get(request);
    if (webSockets !== undefined) {
      const { socket } = upgraded;
      // 'close' comes once the client's close frame has arrived (or the connection ended).
      socket.addEventListener("close", () => webSockets.closed(socket));
      webSockets.opened(socket);
    }
    return upgraded;
  };
}

/**
 * A timer on AbortSignal.timeout: Deno's first setTimeout costs ~10 ms of CPU and ~3 MiB of RSS
 * (2.9.6; measured 10-12 ms and +3.0 MiB against 0.6 ms and nothing), paid at the signal in a
 * process that had not used one. This one keeps the process alive as setTimeout does, but its
 * cancel only silences it: it stays pending until it fires.
 */
function timeoutTimer(fn: () => void, ms: number): () => void {
  let cancelled = false;
  // AbortSignal.timeout throws on a negative or non-finite time, where setTimeout waits 0.
  AbortSignal.timeout(ms > 0 ? Math.min(ms, 2 ** 31 - 1) : 0).addEventListener("abort", () => cancelled || fn());
  return () => void (cancelled = true);
}

/** Deno's permissions, as flags a worker is started with: each one granted whole (partial grants are not carried over). */
const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"];

function permissionFlags(): string[] {
  const granted = PERMISSIONS.filter((name) => Deno.permissions.querySync({ name }).state === "granted");
  return granted.length === PERMISSIONS.length ? ["--allow-all"] : granted.map((name) => `--allow-${name}`);
}

/** The primary's channels to its workers, opened with the first worker. */
let channels: DenoWorkerChannels | undefined;

/** Workers as child processes that each listen with reusePort: `deno run` with the same permissions and entry. */
const denoWorkers: WorkersAdapter = {
  mode: "reusePort",
  sharesPortZero: false,
  unsupported() {
    if (Deno.build.os !== "linux") {
      return `${Deno.build.os} does not balance connections over reusePort listeners: every connection would go to one worker; use workers: 1`;
    }
    // A worker that could not read its environment would not know it is one, and start workers too;
    // the channel to each worker is a loopback connection.
    for (const name of ["env", "run", "net"]) {
      if (Deno.permissions.querySync({ name }).state !== "granted") {
        return `Deno needs --allow-env, --allow-run and --allow-net to start workers`;
      }
    }
    return undefined;
  },
  spawn(env, events) {
    const entry = Deno.mainModule.startsWith("file:") ? decodeURIComponent(new URL(Deno.mainModule).pathname) : Deno.mainModule;
    // reusePort is still unstable in Deno 2.9 (--unstable-net).
    const flags = ["run", "--unstable-net", ...permissionFlags()];
    return (channels ??= new DenoWorkerChannels(Deno)).spawn(Deno.execPath(), [...flags, entry, ...Deno.args], env, events);
  },
  connect: () => connectToPrimary(Deno),
  readText(path) {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return undefined;
    }
  },
  cpuCount: () => navigator.hardwareConcurrency,
  pid: () => Deno.pid,
};

const runtime: RuntimeAdapter = {
  name: "deno",
  workers: denoWorkers,
  async listen(handler, { hostname, port, passThrough, shared, appSettled }) {
    // Deno's shutdown() breaks request bodies still arriving (denoland/deno#36809): the handler
    // reading one gets an error and the client a 500. Handlers given a body are counted so that
    // close() can wait for them before it shuts the server down: those begun before it, then those
    // begun while it waited (the listener stays open meanwhile: an upload that came in then got a
    // 500, where Node and Bun refuse its connection), and not those begun after that (under a
    // stream of uploads, a wait for none running came at the deadline). A count and a WeakSet per
    // round, nothing allocated per request before the close.
    const readers = {
      running: 0,
      waiting: [] as (() => void)[],
      /** Begun during the close's first wait: waited for in its second. */
      late: undefined as WeakSet<Request> | undefined,
      lateRunning: 0,
      /** Begun after that: not waited for. */
      later: undefined as WeakSet<Request> | undefined,
    };
    const wake = () => {
      for (const resolve of readers.waiting.splice(0)) resolve();
    };
    appSettled.notify = (request) => {
      if (BODILESS.has(request.method) || readers.later?.delete(request)) return;
      if (readers.late?.delete(request)) {
        if (--readers.lateRunning === 0 && readers.later !== undefined) wake();
      } else if (--readers.running === 0 && readers.later === undefined) wake();
    };
    const whenNoneRuns = (count: () => number): Promise<void> =>
      count() === 0 ? Promise.resolve() : new Promise((resolve) => readers.waiting.push(resolve));
    const bodiesRead = (): Promise<void> => {
      readers.late ??= new WeakSet();
      return whenNoneRuns(() => readers.running).then(() => {
        readers.later ??= new WeakSet();
        return whenNoneRuns(() => readers.lateRunning);
      });
    };
    // The method, not `request.body`: reading that getter makes Deno build a body stream, and the
    // app's json()/text() then take the slow path (measured: 0.87x on a JSON API). A POST without a
    // body is tracked too, which only means close() waits for its handler.
    const webSockets = new OpenWebSockets(undefined, timeoutTimer);
    trackUpgrades();
    const track = (request: Request, info: unknown): Response | Promise<Response> => {
      if (BODILESS.has(request.method)) {
        if (request.method === "GET") webSocketsOf.set(request, webSockets);
        return handler(request, info);
      }
      // Until the app's handler settles (appSettled, once for every request the core's handler
      // gets), not until its answer goes: an answer the drain holds has read its body, and close()
      // waiting for it kept the listener open while the held answers went out (their clients
      // reconnected into it and shutdown() reset them).
      if (readers.late === undefined) readers.running++;
      else if (readers.later === undefined) {
        readers.late.add(request);
        readers.lateRunning++;
      } else readers.later.add(request);
      return handler(request, info);
    };
    // Deno.serve binds synchronously and throws when it cannot: listen() rejects with that error. An
    // onListen of our own keeps Deno from printing its "Listening on" line.
    // Workers share the port: the kernel balances reusePort listeners (Linux).
    const reuse = shared ? { reusePort: true } : {};
    const server = Deno.serve({ ...passThrough, ...reuse, hostname, port, onListen: () => {} }, track);
    let shutDown: Promise<void> | undefined;
    let shutdownCalled = () => {};
    const calledShutdown = new Promise<void>((resolve) => (shutdownCalled = resolve));
    const shutdown = () => (shutDown ??= (shutdownCalled(), server.shutdown()));
    const after = (ms: number) => new Promise<void>((resolve) => void timeoutTimer(resolve, ms));
    let stopped: Promise<void> | undefined;
    const listening: ListeningServer = {
      port: server.addr.port,
      hostname,
      // shutdown(): closes the listener and idle connections, lets in-flight responses finish.
      // It waits first for the handlers that were given a request body (see `readers`), and for
      // the closing handshake of every WebSocket (both bounded by the drain's deadline); new
      // arrivals meanwhile are served and their connections closed after.
      close: () => (stopped ??= Promise.all([bodiesRead(), webSockets.goAway()]).then(shutdown)),
      // Deno closes its listener on a later turn of the event loop than shutdown()'s call; a 1 ms
      // timer lets it poll its I/O first (measured: half the dropped arrivals at close, or less).
      // Once shutdown() was called (after the body readers, SHUTDOWN_WAIT_MAX_MS at most: a slow
      // upload must not hold every answer): the held answers go after that, or their clients
      // would reconnect into a listener still open and meet its shutdown (a reset).
      stoppedAccepting: () => Promise.race([calledShutdown, after(SHUTDOWN_WAIT_MAX_MS)]).then(() => after(1)),
      closeIdle() {},
      // At the deadline the listener closes even if a handler with a body still runs. Aborting
      // Deno's server after shutdown() crashes the process: only ending it cuts connections.
      forceClose() {
        void shutdown();
        return false;
      },
      // Deno.serve does not expose its connections: the WebSockets are the ones it can count (the
      // requests and streams a cut ends are in the report's requests.cut).
      openConnections: () => webSockets.size,
      closesIdleWithListener: true,
      // Deno.serve has no idle timeout: it keeps an idle kept-alive connection until the client
      // (or shutdown()) closes it, so it never closes one under a balancer.
      keepAlive: { timeoutMs: null, note: "Deno.serve never closes idle keep-alive connections" },
    };
    return listening;
  },
  // Served once Deno says the response is complete (the handler info's `completed`), cut if that
  // rejects. Not request.signal: Deno aborts it after every response and warns once read.
  watchDelivery(_response, _request, info, delivered) {
    const completed = (info as { completed?: Promise<void> } | undefined)?.completed;
    if (completed === undefined) return delivered(true);
    completed.then(() => delivered(true), () => delivered(false));
  },
  // An HTTP/2 request has neither Host (its authority is a pseudo-header, which Deno does not show)
  // nor Connection (HTTP/2 forbids it), and its answer is not held for a next request on the
  // connection: HTTP/2's GOAWAY tells the client which streams were taken. Held, it went after
  // shutdown()'s GOAWAY, and node:http2 clients, which answer with a GOAWAY of their own, had Deno
  // cancel every such stream (RST_STREAM CANCEL, counted served). An HTTP/1.0 client keeps its
  // connection only with `Connection: keep-alive`; an HTTP/1.1 one without Host breaks RFC 9112
  // (Deno serves it), and is taken for HTTP/2 here: its answer goes at once, with Connection: close.
  asksToClose: (request) => (!request.headers.has("host") && !request.headers.has("connection")) || asksToClose(request),
  // Deno.addSignalListener, not node:process: process.on runs promise callbacks ~6 ms sooner after
  // the signal, but importing node:process costs Deno ~6 MiB of RSS and ~30 ms of cold start.
  onSignal(signal, listener) {
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  },
  // The global error events, whose default (printing, ending the process) the drain replaces.
  onFatalError: (listener) =>
    onEachFatalKind(listener, (kind, handler) => {
      const type = kind === "uncaughtException" ? "error" : "unhandledrejection";
      const onEvent = (event: Event) => {
        event.preventDefault();
        handler(kind === "uncaughtException" ? (event as ErrorEvent).error : (event as PromiseRejectionEvent).reason);
      };
      globalThis.addEventListener(type, onEvent);
      return () => globalThis.removeEventListener(type, onEvent);
    }),
  exit: (code) => Deno.exit(code),
  // A drain that ends the process needs no timer that can really be cancelled: its exit ends them.
  exitTimer: timeoutTimer,
  // Deno.kill needs the run permission; without it there is no backstop (asking would prompt).
  exitWatchdog: (ms) => Deno.permissions.querySync({ name: "run" }).state === "granted" ? killAfter(ms) : () => {},
  processOrigin() {
    // Without read permission for /proc, asking would prompt on a terminal: stay silent instead.
    if (Deno.pid !== 1 && Deno.permissions.querySync({ name: "read", path: "/proc" }).state !== "granted") return undefined;
    // Asynchronous reads, and no timer before them: the first setTimeout in a Deno process loads
    // Deno's node:timers (~10 ms of CPU, measured on 2.9.6), which `deno serve` never pays before
    // its first request; an async read already lets the listen go first. Async reads cost ~0.5 MiB
    // of RSS over sync ones, the timer cost more: the command's RSS went from 43.5 to 41.0 MiB.
    return processOriginReading(Deno.pid, Deno.ppid, (path) => Deno.readTextFile(path), () => Promise.resolve());
  },
  env(name) {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // no --allow-env: behave as if unset
    }
  },
};

// Bound to this runtime; each is documented where it is defined (ServeGracefully, Lifecycle).
const binding: RuntimeBinding<DenoPassThroughOptions> = bindRuntime(runtime, DENO_PASS_THROUGH_KEYS);
export const serveGracefully: ServeGracefully<DenoPassThroughOptions> = binding.serveGracefully;
export const lifecycle: Lifecycle = binding.lifecycle;
export const createLifecycle: (options?: LifecycleOptions) => Lifecycle = binding.createLifecycle;
export const endOnDrain: Lifecycle["endOnDrain"] = binding.endOnDrain;
