/**
 * The contract between the runtime-agnostic core and the runtime adapters, and the public types.
 * Nothing here names a runtime: adapters hand the core what it needs through these interfaces.
 */

/** Cloudflare Workers' ExecutionContext, as Hono types it: `c.executionCtx`. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
  // deno-lint-ignore no-explicit-any
  props: any;
}

/** A Hono app, or anything with `fetch(request, env, executionCtx)`. */
export interface FetchApp {
  // deno-lint-ignore no-explicit-any
  fetch(request: Request, env: any, executionCtx: ExecutionContext): Response | Promise<Response>;
}

/** What a server is listening on. */
export interface ListenInfo {
  port: number;
  hostname: string;
}

/** The handler an adapter calls for every request, with the runtime's native second argument. */
export type RuntimeHandler = (request: Request, env: unknown) => Response | Promise<Response>;

/** A server the adapter has bound, as the core drives it. */
export interface ListeningServer extends ListenInfo {
  /**
   * Stop accepting connections and close the idle ones. Resolves once every connection has ended
   * (in-flight responses finished, streams closed).
   */
  close(): Promise<void>;
  /**
   * Optional: resolves once the server has stopped accepting connections (or HTTP/2 streams, by
   * GOAWAY) after close(), when that happens on a later turn of the event loop (Deno's shutdown(),
   * Node's HTTP/2 sessions after a PING round trip). The drain releases the
   * held responses after it: a burst of them first would delay the close while the listener still
   * accepts connections it then drops.
   */
  stoppedAccepting?(): Promise<void>;
  /**
   * Close connections with no request in progress, including ones that never sent a byte. The
   * drain calls it once no handler runs, so a busy keep-alive client between two requests is not
   * cut; a runtime whose close() already did this may do nothing. `answersHeld`: the drain held
   * answers until a moment ago; a client waiting for one sent nothing meanwhile, on any of its
   * connections, so a connection idle since then may carry its next request at once.
   */
  closeIdle(answersHeld?: boolean): void;
  /**
   * Optional: resolves once no connection has a response in progress, leaving idle keep-alive
   * connections open. When the process ends right after the drain, the core waits on this instead
   * of closing idle connections one by one: ending the process closes them all at once.
   * `answersHeld` as for closeIdle.
   */
  responsesDone?(answersHeld?: boolean): Promise<void>;
  /**
   * Optional: true when nothing is in progress on this server (no request, no response being
   * written, no WebSocket). When the process ends right after a drain with nothing left to do, such
   * a server is not closed: the exit closes its listener and every idle connection at once. For a
   * runtime that cannot close only its listener (Bun's stop() also closes each idle connection,
   * ~100 ms for 10,000 of them). Such a server's stoppedAccepting() is not awaited then (no close).
   */
  idleForExit?(): boolean;
  /**
   * Optional: true when close() ends every idle connection at once, with no grace for one answered
   * a moment ago (Bun's stop(), Deno's shutdown()). The hold then lasts until REQUEST_GRACE_MS after
   * the last answer before the drain, so that client's next request comes into it.
   */
  closesIdleWithListener?: boolean;
  /**
   * Cut every connection still open. Returns false when the runtime has no safe way to do it
   * while the process lives (Deno): only ending the process can.
   */
  forceClose(): boolean;
  /** Connections (or requests) still open, where the runtime can tell. */
  openConnections(): number | undefined;
  /**
   * Set when the runtime does not apply the asked keep-alive idle timeout as is: the ms it applies
   * (null: it never closes idle connections) and why, for the startup line.
   */
  keepAlive?: { timeoutMs: number | null; note: string };
}

/** How the core asks an adapter to bind one server. */
export interface ListenOptions extends ListenInfo {
  /** ms an idle kept-alive connection may stay open (see ServeOptions.keepAliveTimeout). */
  keepAliveTimeout: number;
  /** The adapter's own options the user passed, handed to the runtime's server as they are. */
  passThrough: Record<string, unknown>;
  /** Set in a worker: other processes listen on the same port (Bun and Deno: `reusePort`). */
  shared?: boolean;
  /** This server's slot for hearing each app handler settle (set it in listen(), before serving). */
  appSettled: AppSettled;
}

/**
 * `notify` is told once for every request the core's handler gets, as the app's own handler
 * settles (its response or its error; a health probe's at once), before the drain's hold keeps
 * the answer back. Deno's close waits for handlers still reading a request body, and an answer the
 * drain holds has read its body already.
 */
export interface AppSettled {
  notify?: (request: Request, env: unknown) => void;
}

/** The server side of an adapter: binds servers and speaks for the runtime's HTTP details. */
export interface ServerAdapter {
  /**
   * Bind a server; resolves once it listens, rejects with the runtime's own error when it cannot
   * (serveGracefully wraps that in a ListenError naming the address).
   */
  listen(handler: RuntimeHandler, options: ListenOptions): Promise<ListeningServer>;
  /**
   * Mark a response so its connection closes after it (`Connection: close`). Optional: the core's
   * default sets the header; Node over HTTP/2 must not (GOAWAY does the rotation there), and Node
   * over HTTP/1 decides a turn later, once it has read the pipelined requests that came along.
   */
  closeConnectionAfter?(response: Response, env: unknown): Response | Promise<Response>;
  /**
   * Whether the client asked to close its connection after this request. Optional: the core's
   * default reads `request.headers`; Node reads its own message instead (reading `headers` turns
   * @hono/node-server's light request into a full copy).
   */
  asksToClose?(request: Request, env: unknown): boolean;
  /**
   * While draining, tell once whether a response reached a live connection: `delivered(true)` when
   * the runtime has written it to the connection, `false` when the connection ended first. Optional:
   * the core's default says served when `request.signal` is not aborted as the response is handed over.
   */
  watchDelivery?(response: Response, request: Request, env: unknown, delivered: (delivered: boolean) => void): void;
}

/** The process side of an adapter: signals, fatal errors, exit, environment. */
export interface ProcessAdapter {
  /** Subscribe to a process signal; returns the unsubscribe. */
  onSignal(signal: ShutdownSignal, listener: () => void): () => void;
  /**
   * Optional: subscribe to an order to force the drain now (a worker's primary got a second signal);
   * returns the unsubscribe.
   */
  onForce?(listener: (signal: ShutdownSignal) => void): () => void;
  /**
   * Optional: set while this drain replaces the process and the service goes on (a worker replaced
   * by a reload, a new worker serving beside it): no drain delay, /readyz keeps passing (a balancer
   * must not take the instance out), and the hold waits `holdQuietMs` for quiet (a stalled client
   * may be waited for). Read again during the drain: undefined once the whole service drains.
   */
  replacement?(): { holdQuietMs: number } | undefined;
  /**
   * Optional: a worker's listeners have closed. In a drain of the whole service (`wholeService`),
   * resolves once every other worker's have too (or a while later at most); its held answers wait
   * for it: a client answered earlier would reconnect into a listener that another worker is about
   * to close, and be reset as it closes; after it, the connection is refused. Otherwise at once.
   */
  listenersClosed?(wholeService: boolean): Promise<void>;
  /**
   * Optional: timers for a drain that ends the process, where the runtime's usual ones cost the
   * exit time (Deno's first setTimeout: ~10 ms). A cancelled timer may stay pending: the exit ends it.
   */
  exitTimer?(fn: () => void, ms: number): () => void;
  /**
   * Optional: end the process by SIGKILL if it still runs `ms` from now, even with its event loop
   * blocked (a synchronous write to a full pipe); returns the cancel. Armed when a drain that ends
   * the process begins, a backstop well past its deadline. `flushingLogger`: the logger writes what
   * it holds at the exit (pino), synchronously on some runtimes.
   */
  exitWatchdog?(ms: number, flushingLogger: boolean): () => void;
  /** Subscribe to uncaught exceptions and unhandled rejections; returns the unsubscribe. */
  onFatalError(listener: (error: unknown, kind: "uncaughtException" | "unhandledRejection") => void): () => void;
  /** End the process now. */
  exit(code: number): void;
  /**
   * Set when exit() lets I/O run before the process ends (a worker's waits for its primary's
   * answer): the drain then closes every connection itself, since a request read meanwhile on one
   * left open would run and be cut by the exit.
   */
  exitPollsIo?: boolean;
  /** Who started this process, where the runtime can tell (Linux /proc); for the signal warning. */
  processOrigin?(): ProcessOrigin | undefined | Promise<ProcessOrigin | undefined>;
  /** Read an environment variable (undefined when absent or not permitted). */
  env(name: string): string | undefined;
}

/** What the core asks of a runtime: both sides, and the runtime's name. */
export interface RuntimeAdapter extends ServerAdapter, ProcessAdapter {
  readonly name: "node" | "bun" | "deno";
  /** Optional: how this runtime runs several worker processes on one port (`workers`). */
  readonly workers?: WorkersAdapter;
}

/**
 * How a runtime runs workers: the primary starts processes that re-run the same entry with the
 * same runtime and flags; a worker talks to its primary over a channel that closes when the primary dies.
 */
export interface WorkersAdapter {
  /** "cluster": node:cluster's primary accepts and hands out connections; "reusePort": the kernel balances. */
  readonly mode: "cluster" | "reusePort";
  /** True when workers listening on port 0 share one port (node:cluster); else the first worker's port is passed on. */
  readonly sharesPortZero: boolean;
  /** Why this OS cannot run workers (macOS does not balance reusePort), else undefined. */
  unsupported(): string | undefined;
  /** Start one worker process with these extra environment variables. */
  spawn(env: Record<string, string>, events: WorkerEvents): WorkerProcess;
  /** The primary: the whole service drains from now on (no worker will take over another's connections). */
  serviceDraining?(): void;
  /** In a worker: the channel to the primary. */
  connect(): WorkerChannel;
  /** A file's text, or undefined (for `workers: "auto"`: cgroup and /proc files). */
  readText(path: string): string | undefined;
  /** The runtime's own CPU count. */
  cpuCount(): number;
  /** This process's id. */
  pid(): number;
}

/** What the primary hears from a worker process. */
export interface WorkerEvents {
  message(message: unknown): void;
  exit(code: number | null, signal: string | null): void;
}

/** A worker process, seen from the primary. */
export interface WorkerProcess {
  readonly pid: number;
  /** Send a message; dropped when the channel is closed. */
  send(message: unknown): void;
  kill(signal: "SIGKILL" | "SIGTERM"): void;
}

/** A worker's channel to its primary. */
export interface WorkerChannel {
  /**
   * Resolves once the message is handed to the OS (or the channel is closed). `confirm: false`
   * asks the runtime for no confirmation and resolves at once: for a message that a confirmed one
   * follows on the same channel, which writes messages in order.
   */
  send(message: unknown, confirm?: boolean): Promise<void>;
  onMessage(listener: (message: unknown) => void): void;
  /** The primary is gone: its end of the channel closed (it exited, or was killed). */
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

/** Who started this process: its pid, and the processes above it up to PID 1 (Linux /proc). */
export interface ProcessOrigin {
  pid: number;
  ppid: number;
  /** Parent first, PID 1 last (when the walk got there); empty when this process is PID 1. */
  ancestors: Ancestor[];
}

/** One process above this one. */
export interface Ancestor {
  pid: number;
  /** Its command line, one argument per entry. */
  command: string[];
}

/** The signals a drain can be started by (the `signals` option accepts these and no other). */
export const SHUTDOWN_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2"] as const;

/** The signals a drain can be started by. */
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];
/** Whether a value is one of the signals the library handles. */
export const isShutdownSignal = (value: unknown): value is ShutdownSignal => (SHUTDOWN_SIGNALS as readonly unknown[]).includes(value);

/**
 * A structured log record; `event` names what happened. A function logger gets every record with
 * `time` set (the same fields as the default JSON line); a console-like logger gets
 * `(fields, msg)`, the fields without `level`, `time` and `msg`. At most 3,584 bytes as JSON.
 */
export interface LogRecord {
  level: "info" | "warn" | "error";
  event: string;
  msg: string;
  /** Milliseconds since the epoch, set when the record is handed to a logger. */
  time?: number;
  [field: string]: unknown;
}

/** Where log records go: a function, or a console-like object. */
export type LoggerOption =
  | false
  | ((record: LogRecord & { time: number }) => void)
  | { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void };

/** What a shutdown did: the same facts as the last log line. */
export interface ShutdownReport {
  /** With `workers`: each worker's pid and how its drain ended (the primary's report only). */
  workers?: WorkerReport[];
  /** What started it. */
  reason: "signal" | "shutdown" | "error" | "start-failed";
  /** The signal, when a signal started it. */
  signal?: string;
  /** Wall-clock time the drain started (ms since the epoch). */
  startedAt: number;
  /** From the start of the drain to the end of the last stop. */
  durationMs: number;
  /** Time spent serving with /readyz at 503 before the listeners closed. */
  drainDelayMs: number;
  /** Time from the end of the drain delay until requests, streams and tasks were done. */
  drainMs: number;
  requests: {
    /** Requests whose handler was running when the drain started. */
    inFlightAtStart: number;
    /**
     * Requests answered from the start of the drain on (the in-flight ones and new ones): the
     * response was handed to the runtime for a live connection (Node: fully written to the socket).
     */
    served: number;
    /**
     * Requests that ran but whose answer never reached the client: handlers still running at the
     * deadline, and responses whose connection ended before the runtime took them. Any makes exit 1.
     */
    cut: number;
  };
  tasks: {
    /** waitUntil tasks pending when the drain started. */
    pendingAtStart: number;
    /** Tasks settled from the start of the drain on. */
    completed: number;
    /** Tasks that rejected during the drain (logged, never rethrown). */
    failed: number;
    /** Tasks still pending at the deadline. */
    cut: number;
  };
  /** Connections (streams, hung responses) cut at the deadline, where the runtime can tell. */
  connectionsCut: number;
  /** Lifecycle parts, in the order they stopped. */
  parts: PartReport[];
  /** True when anything had to be cut: the deadline passed or a second signal came. */
  forced: boolean;
  /** Why it was forced, when it was. */
  forcedBy?: "deadline" | "second-signal";
  /**
   * When the deadline forced it, which budget ran out: "deadline" (the whole timeout) or
   * "stop-reserve" (the servers' share ended where the time kept for the parts' stops begins).
   */
  budget?: DeadlineBudget["budget"];
  /** When forced: what the drain was still waiting for at that moment (also in `drain.forced`). */
  waitingFor?: WaitingFor;
  /**
   * Error messages met on the way: the failed start, the fatal error, tasks that failed from the
   * start of the drain on (earlier ones are only logged), failed stops. The first 10, each cut to
   * 1,000 characters; every one is also logged as it happens.
   */
  errors: string[];
  /** Errors beyond the 10 kept in `errors`: counted, not kept. */
  errorsOmitted: number;
  /** 0 after a clean drain, 1 after a forced one or an error. */
  exitCode: 0 | 1;
}

/** How one worker fared in the drain (the primary's report). */
export interface WorkerReport {
  pid: number;
  /**
   * "stopped": drained clean; "timeout"/"cut": forced; "failed": drained with errors; "killed": died
   * without a report; "skipped": never listened (a reload's new worker still loading at the drain).
   */
  outcome: "stopped" | "failed" | "timeout" | "cut" | "killed" | "skipped";
  exitCode: number | null;
  signal?: string;
}

/**
 * The budget the deadline enforces: the servers get the timeout less what the parts keep for their
 * stops (the sum of their stop timeouts, at most half of the time after the drain delay).
 */
export interface DeadlineBudget {
  /** "deadline": nothing is kept, the whole timeout ran out; "stop-reserve": the servers' share ran out. */
  budget: "deadline" | "stop-reserve";
  /** ms from the drain's start the servers had: `timeoutMs - stopReserveMs`. */
  budgetMs: number;
  /** ms kept for the parts' stops. */
  stopReserveMs: number;
  timeoutMs: number;
}

/** What a forced drain was still waiting for when it was forced. */
export interface WaitingFor {
  /** Handlers still running. */
  requests: number;
  /** Responses returned but not yet delivered (held, or being written). */
  responses: number;
  /** waitUntil tasks still pending. */
  tasks: number;
  /** Connections (streams, WebSockets, kept-alive) still open, where the runtime can tell. */
  connections?: number;
  /** Servers whose close had not resolved: the runtime still had a connection open. */
  serversClosing: string[];
  /** A part's start or stop in progress (`start of "db"`, `stop of "db"`). */
  step?: string;
}

/** How one lifecycle part fared. */
export interface PartReport {
  name: string;
  kind: "server" | "part";
  /**
   * "stopped": clean; "failed": threw; "timeout": exceeded its time (or the deadline passed first);
   * "cut": a second signal stopped it at once (a server's open connections were cut, a part's stop
   * did not run); "skipped": never started.
   */
  outcome: "stopped" | "failed" | "timeout" | "cut" | "skipped";
  durationMs: number;
  error?: string;
}
