/**
 * Node workers' port, held by the primary: it listens, accepts each connection paused, and hands it
 * to a worker over the IPC channel (https://nodejs.org/api/child_process.html#subprocesssendmessage-sendhandle-options-callback),
 * round-robin, as node:cluster does. Unlike node:cluster, the listener closes before the last
 * worker stops taking connections: a worker's stop is a request that the primary answers after
 * every connection it handed to that worker, so nothing it accepted is closed unanswered (at a
 * stop, node:cluster closed those with its listener: resets behind a proxy that sends until refused).
 * A worker's server never listens; it serves the connections it is given ('connection' emitted).
 * A worker that stops while others serve on gives its idle connections back, unread, and the
 * primary hands them to another: a pooled client's next request is not met by a close.
 */
import type { Server, Socket } from "node:net";
import { process } from "./node-process.ts";

/** In a worker's environment: its servers take their connections from the primary. */
export const HANDOFF_ENV = "SERVE_GRACEFULLY_HANDOFF";
/**
 * Connections kept while no worker takes them (all crashed, restarts pending; all busy, as in a
 * burst of thousands at once); more are closed. `SERVE_GRACEFULLY_HANDOFF_WAITING_MAX` sets it
 * (1 to 1,048,576; the process's file limit bounds it anyway).
 */
export const WAITING_MAX: number = waitingMax(process.env.SERVE_GRACEFULLY_HANDOFF_WAITING_MAX);
/** Idle connections a stopping worker gives back, the most recently busy first; the rest it closes. */
export const GIVEN_BACK_MAX = 1_024;
/**
 * Given-back connections on their way to workers at once: new connections go first, so that a
 * reload that moves thousands keeps a balancer's health check (a new connection) answered at once.
 */
const MOVING_AT_ONCE = 2;

function waitingMax(text: string | undefined): number {
  if (text === undefined || text === "") return 16_384;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1_048_576) {
    throw new TypeError(`SERVE_GRACEFULLY_HANDOFF_WAITING_MAX must be a whole number from 1 to 1048576, got ${JSON.stringify(text)}`);
  }
  return n;
}
/**
 * Connections handed to one worker and not yet written to its channel: Node sends the next
 * socket only once the worker has acknowledged the last, which takes its event loop. A worker
 * stalled this far gets no more until it catches up (node:cluster hands only to a free worker).
 */
export const IN_FLIGHT_MAX = 64;

/** What a worker's server and the primary say to each other (a socket travels with `handoff.conn`). */
type Handoff =
  | { sg: "handoff.listen"; key: string; hostname: string; port: number }
  | { sg: "handoff.stop"; key: string }
  | { sg: "handoff.listening"; key: string; port: number }
  | { sg: "handoff.failed"; key: string; code?: string; message: string }
  | { sg: "handoff.conn"; key: string; kept?: true }
  | { sg: "handoff.back"; key: string }
  | { sg: "handoff.stopped"; key: string; takesBack: boolean };

const isHandoff = (message: unknown): message is Handoff =>
  typeof message === "object" && message !== null && typeof (message as { sg?: unknown }).sg === "string" &&
  (message as { sg: string }).sg.startsWith("handoff.") && typeof (message as { key?: unknown }).key === "string";

/** The primary's side of one worker, as node:cluster's Worker gives it. */
export interface Taker {
  send(message: Handoff, socket?: Socket, callback?: (error: Error | null) => void): void;
}

/** A worker's server on a shared listener: the worker, the key its server asked with, its sockets on the way. */
interface Member {
  taker: Taker;
  key: string;
  inFlight: Set<Socket>;
}

/** One shared listener: its members in turn, what waits for one, and the workers stopped but alive. */
interface Shared {
  ready: Promise<number>;
  server: Server;
  takers: Member[];
  next: number;
  waiting: Socket[];
  /** Connections given back, waiting for their turn to move (MOVING_AT_ONCE at a time), and how many move now. */
  moving: Socket[];
  movingNow: number;
  /** Each with what is still on the way to it (another worker takes that if it dies). */
  stopped: Map<Taker, Set<Socket>>;
  /** Its keys: the one asked with, and with the port it got (a restarted worker asks for that one). */
  keys: string[];
}

/** The primary's listeners, by the key each worker's server asks with (the same in every worker). */
const shared = new Map<string, Shared>();
/** Connections a worker gave back: idle kept-alive ones, between two requests (said to the next worker). */
const keptAlive = new WeakSet<Socket>();
/** Workers that exited (a listen they asked for may complete after). */
const gone = new WeakSet<Taker>();
/** Set once the whole service drains: no worker takes a connection back from another. */
let serviceDraining = false;

/** The primary: the whole service drains (a stopping worker's idle connections are closed, not moved). */
export function primaryServiceDraining(): void {
  serviceDraining = true;
}

/**
 * Stops reading a connection now (libuv reads only in its poll phase: nothing is read before this
 * runs in the turn that got the socket), so that bytes the client sends meanwhile stay in the
 * kernel for the process it goes to. False when the socket has no handle to stop.
 */
export function stopReading(socket: Socket): boolean {
  const handle = (socket as Socket & { _handle?: { reading?: boolean; readStop?(): number } | null })._handle;
  if (typeof handle?.readStop !== "function") return false;
  handle.reading = false;
  return handle.readStop() === 0;
}

/**
 * The primary: takes a worker's handoff message (true), or leaves it to the caller (false).
 * `createServer` is node:net's, loaded only when a worker asks.
 */
export function primaryTakes(taker: Taker, message: unknown, createServer: () => Server, socket?: Socket): boolean {
  if (!isHandoff(message)) return false;
  const member = { taker, key: message.key, inFlight: new Set<Socket>() };
  if (message.sg === "handoff.listen") listenFor(member, message.hostname, message.port, createServer);
  if (message.sg === "handoff.stop") stopFor(member);
  if (message.sg === "handoff.back" && socket !== undefined) takeBack(message.key, socket);
  return true;
}

/** An idle connection a stopping worker gave back: to a worker that serves on, else closed. */
function takeBack(key: string, socket: Socket): void {
  // First, in the turn that brought it: node's 'got' started reading it.
  const paused = stopReading(socket);
  const entry = shared.get(key);
  if (!paused || serviceDraining || entry === undefined || !entry.takers.some((m) => !entry.stopped.has(m.taker))) {
    return void socket.destroy();
  }
  if (entry.moving.length >= WAITING_MAX) return void socket.destroy();
  keptAlive.add(socket);
  entry.moving.push(socket);
  moveNext(entry);
}

/** Hands over the next given-back connections, MOVING_AT_ONCE at a time. */
function moveNext(entry: Shared): void {
  while (entry.movingNow < MOVING_AT_ONCE) {
    const socket = entry.moving.shift();
    if (socket === undefined) return;
    if (socket.destroyed) continue;
    entry.movingNow++;
    moved.set(socket, () => {
      entry.movingNow--;
      moveNext(entry);
    });
    handTo(entry, socket);
  }
}

/** What to do once a given-back connection is handed over, kept waiting, or closed. */
const moved = new WeakMap<Socket, () => void>();
const placed = (socket: Socket) => {
  const next = moved.get(socket);
  moved.delete(socket);
  next?.();
};

/**
 * The primary: a worker that exited takes no more connections (what it was handed is gone with it).
 * Crashes outside a drain of the whole service (a reload's included) leave the listener open for
 * the restarts (what it accepts meanwhile waits); in that drain, the last one gone closes it.
 */
export function primaryLost(taker: Taker): void {
  gone.add(taker);
  for (const entry of new Set(shared.values())) {
    const stoppedInFlight = entry.stopped.get(taker);
    entry.stopped.delete(taker);
    // What waited in its channel's queue was never sent, also to one that had stopped: to another
    // (Node 20 never calls their callbacks; one called later finds them gone).
    const lost = leave(entry, taker);
    const unsent = new Set([...(lost?.inFlight ?? []), ...(stoppedInFlight ?? [])]);
    lost?.inFlight.clear();
    stoppedInFlight?.clear();
    for (const socket of unsent) if (!socket.destroyed) handTo(entry, socket);
    // Only in a drain of the whole service does no restart come (a reload's old worker may still drain).
    if (entry.takers.length > 0 || !serviceDraining) continue;
    entry.server.close();
    forget(entry);
    for (const socket of [...entry.waiting.splice(0), ...entry.moving.splice(0)]) socket.destroy();
  }
}

function listenFor(member: Member, hostname: string, port: number, createServer: () => Server): void {
  const entry = shared.get(member.key) ?? sharedListener(member.key, hostname, port, createServer());
  entry.ready.then(
    (listening) => {
      if (gone.has(member.taker)) return; // exited while the listener started: it takes nothing
      entry.takers.push(member);
      member.taker.send({ sg: "handoff.listening", key: member.key, port: listening });
      for (const socket of entry.waiting.splice(0)) handTo(entry, socket);
    },
    (error: NodeJS.ErrnoException) => {
      forget(entry); // a later worker (a reload) tries again
      member.taker.send({ sg: "handoff.failed", key: member.key, code: error.code, message: error.message });
    },
  );
}

function sharedListener(key: string, hostname: string, port: number, server: Server): Shared {
  const entry: Shared = {
    server,
    takers: [],
    next: 0,
    waiting: [],
    moving: [],
    movingNow: 0,
    stopped: new Map(),
    keys: [key],
    ready: Promise.resolve(0),
  };
  entry.ready = new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      // An accept that fails (EMFILE) is skipped, as node:cluster's primary does.
      server.on("error", () => {});
      const address = server.address();
      const listening = typeof address === "object" && address !== null ? address.port : port;
      // Port 0 asked: a worker restarted later asks for the port the first ones got.
      const alias = `${hostname}|${listening}|${key.split("|").pop()}`;
      if (!shared.has(alias)) {
        shared.set(alias, entry);
        entry.keys.push(alias);
      }
      resolve(listening);
    });
    server.on("connection", (socket: Socket) => handTo(entry, socket));
    server.listen(port, hostname);
  });
  shared.set(key, entry);
  return entry;
}

/**
 * Hands a connection to the next member in turn with the fewest on the way; keeps it (bounded)
 * while there is none, or every one is stalled.
 */
function handTo(entry: Shared, socket: Socket): void {
  const member = nextFree(entry);
  if (member === undefined) {
    if (entry.waiting.length < WAITING_MAX) entry.waiting.push(socket);
    else socket.destroy();
    return placed(socket);
  }
  member.inFlight.add(socket);
  const settled = (error: Error | null) => {
    if (!member.inFlight.delete(socket)) return; // handed to another already (its worker was lost)
    if (error === null) {
      placed(socket);
      const waiting = entry.waiting.shift(); // a place came free
      if (waiting !== undefined) handTo(entry, waiting);
      return;
    }
    // Its channel closed before the socket went: that worker is gone, another takes it.
    leave(entry, member.taker);
    if (!socket.destroyed) handTo(entry, socket);
  };
  try {
    member.taker.send({ sg: "handoff.conn", key: member.key, ...(keptAlive.has(socket) && { kept: true as const }) }, socket, settled);
  } catch (error) {
    settled(error as Error);
  }
}

function nextFree(entry: Shared): Member | undefined {
  const count = entry.takers.length;
  let free: Member | undefined;
  let at = entry.next;
  for (let i = 1; i <= count; i++) {
    const candidate = entry.takers[(entry.next + i) % count]!;
    if (candidate.inFlight.size >= IN_FLIGHT_MAX || (free !== undefined && candidate.inFlight.size >= free.inFlight.size)) continue;
    free = candidate;
    at = (entry.next + i) % count;
  }
  entry.next = at;
  return free;
}

/**
 * A worker's server stops taking connections. The last one's: the listener closes first, one I/O
 * poll later, so that connections already in its accept queue are accepted and handed to it, not
 * reset. The answer goes after every connection handed to that worker (the channel keeps the order).
 */
function stopFor(member: Member): void {
  const entry = shared.get(member.key);
  const stopped = (takesBack = false) => member.taker.send({ sg: "handoff.stopped", key: member.key, takesBack });
  if (entry === undefined) return stopped();
  // What is on the way to it stays known: its channel's queue, were it to die before reading it.
  member.inFlight = leave(entry, member.taker)?.inFlight ?? member.inFlight;
  entry.stopped.set(member.taker, member.inFlight);
  if (entry.takers.length > 0) return stopped(!serviceDraining);
  entry.takers.push(member); // it still serves: takes what is accepted until the close
  setImmediate(() => {
    entry.server.close();
    forget(entry);
    leave(entry, member.taker);
    for (const socket of entry.moving.splice(0)) socket.destroy();
    for (const socket of entry.waiting.splice(0)) {
      member.taker.send({ sg: "handoff.conn", key: member.key }, socket, (error) => error !== null && socket.destroy());
    }
    stopped();
  });
}

function forget(entry: Shared): void {
  for (const key of entry.keys) if (shared.get(key) === entry) shared.delete(key);
}

function leave(entry: Shared, taker: Taker): Member | undefined {
  const at = entry.takers.findIndex((m) => m.taker === taker);
  if (at === -1) return undefined;
  entry.next = 0;
  return entry.takers.splice(at, 1)[0];
}

/** The worker's servers by key, and how many asked for each address (the nth asks as the nth). */
const served = new Map<
  string,
  {
    take(socket: Socket, kept: boolean): void;
    stopped(takesBack: boolean): void;
    failed(code: string | undefined, message: string): void;
    listening(port: number): void;
  }
>();
const asked = new Map<string, number>();
let routing = false;

/** Whether this process is a worker whose servers take connections from the primary. */
export const handoffWanted = (): boolean => process.env[HANDOFF_ENV] === "1" && process.connected === true;

/** A worker's server that takes its connections from the primary. */
export interface TakenListener {
  /** The port the primary listens on. */
  port: number;
  /**
   * Resolves once the primary has handed over the last connection (or is gone): true when it takes
   * idle connections back for another worker (others serve on), false when they are to be closed.
   */
  stop(): Promise<boolean>;
  /**
   * Gives an idle connection back to the primary, unread (call only after `stop()` said true);
   * resolves true once it is on its way, false when it could not go (the socket is left as it was).
   */
  giveBack(socket: Socket): Promise<boolean>;
}

/**
 * Asks the primary to listen on `hostname:port` for this server and to hand it connections, given
 * to `take`. Rejects with the primary's listen error (its `code`, e.g. EADDRINUSE).
 */
export function takeConnections(
  hostname: string,
  port: number,
  take: (socket: Socket, kept: boolean) => void,
  onListening: (port: number) => void,
): Promise<TakenListener> {
  const address = `${hostname}|${port}`;
  const nth = asked.get(address) ?? 0;
  asked.set(address, nth + 1);
  const key = `${address}|${nth}`;
  if (!routing) {
    routing = true;
    process.on("message", (message: unknown, socket?: Socket) => {
      if (!isHandoff(message)) return;
      const server = served.get(message.key);
      if (message.sg === "handoff.conn") return socket && (server ? server.take(socket, message.kept === true) : socket.destroy());
      if (message.sg === "handoff.listening") server?.listening(message.port);
      if (message.sg === "handoff.failed") server?.failed(message.code, message.message);
      if (message.sg === "handoff.stopped") server?.stopped(message.takesBack === true);
    });
  }
  return new Promise<TakenListener>((resolve, reject) => {
    // What keeps the worker running while it serves: its server does not listen (node:cluster's
    // workers hold a timer for the same reason).
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    let stopping: Promise<boolean> | undefined;
    let stoppedNow = (_takesBack: boolean) => {};
    let listened = false;
    const end = (takesBack = false) => {
      clearInterval(keepAlive);
      served.delete(key);
      if (!listened) reject(new Error("the primary is gone"));
      stoppedNow(takesBack);
    };
    process.once("disconnect", end);
    served.set(key, {
      take,
      listening(listeningPort) {
        listened = true;
        // Now, not in a promise callback: a connection handed over in the same read comes next.
        onListening(listeningPort);
        keepAlive = setInterval(() => {}, 2 ** 31 - 1);
        resolve({
          port: listeningPort,
          stop: () =>
            stopping ??= new Promise<boolean>((done) => {
              stoppedNow = (takesBack) => {
                process.off("disconnect", end);
                done(takesBack);
              };
              if (!send({ sg: "handoff.stop", key })) end();
            }),
          giveBack: (socket) => giveBack(key, socket),
        });
      },
      failed(code, message) {
        served.delete(key);
        process.off("disconnect", end);
        reject(Object.assign(new Error(message), { code }));
      },
      stopped: end,
    });
    if (!send({ sg: "handoff.listen", key, hostname, port })) end();
  });
}

function giveBack(key: string, socket: Socket): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.connected !== true || process.send === undefined) return resolve(false);
    try {
      // The callback comes once the socket is written to the channel: the primary holds it then,
      // whether or not this process is still alive to hear the primary's acknowledgement.
      process.send({ sg: "handoff.back", key } satisfies Handoff, socket, {}, (error: Error | null) => resolve(error === null));
    } catch {
      resolve(false);
    }
  });
}

function send(message: Handoff): boolean {
  if (process.connected !== true || process.send === undefined) return false;
  try {
    process.send(message);
    return true;
  } catch {
    return false;
  }
}
