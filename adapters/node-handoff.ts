/**
 * Node workers' port, held by the primary: it listens, accepts each connection paused, and hands it
 * to a worker over the IPC channel (https://nodejs.org/api/child_process.html#subprocesssendmessage-sendhandle-options-callback),
 * round-robin, as node:cluster does. Unlike node:cluster, the listener closes before the last
 * worker stops taking connections: a worker's stop is a request that the primary answers after
 * every connection it handed to that worker, so nothing it accepted is closed unanswered (at a
 * stop, node:cluster closed those with its listener: resets behind a proxy that sends until refused).
 * A worker's server never listens; it serves the connections it is given ('connection' emitted).
 */
import type { Server, Socket } from "node:net";
import { process } from "./node-process.ts";

/** In a worker's environment: its servers take their connections from the primary. */
export const HANDOFF_ENV = "SERVE_GRACEFULLY_HANDOFF";
/** Connections kept while no worker takes them (all crashed, restarts pending); more are closed. */
export const WAITING_MAX = 1_024;

/** An accepted socket in flight; the one field net.Socket carries across the channel. */
type Handoff =
  | { sg: "handoff.listen"; key: string; hostname: string; port: number }
  | { sg: "handoff.stop"; key: string }
  | { sg: "handoff.listening"; key: string; port: number }
  | { sg: "handoff.failed"; key: string; code?: string; message: string }
  | { sg: "handoff.conn"; key: string }
  | { sg: "handoff.stopped"; key: string };

const isHandoff = (message: unknown): message is Handoff =>
  typeof message === "object" && message !== null && typeof (message as { sg?: unknown }).sg === "string" &&
  (message as { sg: string }).sg.startsWith("handoff.") && typeof (message as { key?: unknown }).key === "string";

/** The primary's side of one worker, as node:cluster's Worker gives it. */
export interface Taker {
  send(message: Handoff, socket?: Socket, callback?: (error: Error | null) => void): void;
}

/** A worker's server on a shared listener: the worker, and the key its server asked with. */
interface Member {
  taker: Taker;
  key: string;
}

/** One shared listener: its members in turn, what waits for one, and the stopped ones not yet answered. */
interface Shared {
  ready: Promise<number>;
  server: Server;
  takers: Member[];
  next: number;
  waiting: Socket[];
  unanswered: Member[];
  /** Its keys: the one asked with, and with the port it got (a restarted worker asks for that one). */
  keys: string[];
}

/**
 * Set once the whole service drains (not a reload): a worker's stop is then answered only as the
 * listener closes. Its held answers wait till then, so its clients do not reconnect into a
 * listener about to close (they are refused after it, cleanly); the last worker's hold ends
 * within a few milliseconds of the others' (one signal).
 */
let serviceDraining = false;
export function primaryDrains(): void {
  serviceDraining = true;
}

/** The primary's listeners, by the key each worker's server asks with (the same in every worker). */
const shared = new Map<string, Shared>();

/**
 * The primary: takes a worker's handoff message (true), or leaves it to the caller (false).
 * `createServer` is node:net's, loaded only when a worker asks.
 */
export function primaryTakes(taker: Taker, message: unknown, createServer: () => Server): boolean {
  if (!isHandoff(message)) return false;
  if (message.sg === "handoff.listen") listenFor({ taker, key: message.key }, message.hostname, message.port, createServer);
  if (message.sg === "handoff.stop") stopFor({ taker, key: message.key });
  return true;
}

/** The primary: a worker that exited takes no more connections (what it was handed is gone with it). */
export function primaryLost(taker: Taker): void {
  for (const entry of new Set(shared.values())) {
    leave(entry, taker);
    const unanswered = entry.unanswered.filter((m) => m.taker !== taker);
    entry.unanswered = unanswered;
    // The others stopped and wait for the close: this one will not stop now.
    if (entry.takers.length === 0 && unanswered.length > 0) closeListener(entry, unanswered.pop()!);
  }
}

function listenFor(member: Member, hostname: string, port: number, createServer: () => Server): void {
  const entry = shared.get(member.key) ?? sharedListener(member.key, hostname, port, createServer());
  entry.ready.then(
    (listening) => {
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
  const entry: Shared = { server, takers: [], next: 0, waiting: [], unanswered: [], keys: [key], ready: Promise.resolve(0) };
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

/** Hands a connection to the next member; keeps it (bounded) while there is none. */
function handTo(entry: Shared, socket: Socket): void {
  if (entry.takers.length === 0) {
    if (entry.waiting.length < WAITING_MAX) entry.waiting.push(socket);
    else socket.destroy();
    return;
  }
  entry.next = (entry.next + 1) % entry.takers.length;
  const { taker, key } = entry.takers[entry.next]!;
  const gone = () => {
    // Its channel closed before the socket went: that worker is gone, another takes it.
    leave(entry, taker);
    if (!socket.destroyed) handTo(entry, socket);
  };
  try {
    taker.send({ sg: "handoff.conn", key }, socket, (error) => error !== null && gone());
  } catch {
    gone();
  }
}

/**
 * A worker's server stops taking connections. The last one's listener closes first, one I/O poll
 * later so that connections already in its accept queue are accepted and handed to it, not reset.
 * The answer goes after every connection handed to that worker (the channel keeps the order).
 */
function stopFor(member: Member): void {
  const entry = shared.get(member.key);
  if (entry === undefined) return member.taker.send({ sg: "handoff.stopped", key: member.key });
  leave(entry, member.taker);
  if (entry.takers.length === 0) return closeListener(entry, member);
  if (serviceDraining) entry.unanswered.push(member);
  else member.taker.send({ sg: "handoff.stopped", key: member.key });
}

/** Closes the listener for good, one I/O poll after the last member stopped; then answers every stop. */
function closeListener(entry: Shared, last: Member): void {
  entry.takers.push(last); // it still serves: takes what is accepted until the close
  setImmediate(() => {
    entry.server.close();
    forget(entry);
    leave(entry, last.taker);
    for (const socket of entry.waiting.splice(0)) last.taker.send({ sg: "handoff.conn", key: last.key }, socket, () => {});
    for (const { taker, key } of [last, ...entry.unanswered.splice(0)]) taker.send({ sg: "handoff.stopped", key });
  });
}

function forget(entry: Shared): void {
  for (const key of entry.keys) if (shared.get(key) === entry) shared.delete(key);
}

function leave(entry: Shared, taker: Taker): void {
  const at = entry.takers.findIndex((m) => m.taker === taker);
  if (at === -1) return;
  entry.takers.splice(at, 1);
  entry.next = 0;
}

/** The worker's servers by key, and how many asked for each address (the nth asks as the nth). */
const served = new Map<
  string,
  { take(socket: Socket): void; stopped(): void; failed(code: string | undefined, message: string): void; listening(port: number): void }
>();
const asked = new Map<string, number>();
let routing = false;

/** Whether this process is a worker whose servers take connections from the primary. */
export const handoffWanted = (): boolean => process.env[HANDOFF_ENV] === "1" && process.connected === true;

/** A worker's server that takes its connections from the primary. */
export interface TakenListener {
  /** The port the primary listens on. */
  port: number;
  /** Resolves once the primary has handed over the last connection (or is gone). */
  stop(): Promise<void>;
}

/**
 * Asks the primary to listen on `hostname:port` for this server and to hand it connections, given
 * to `take`. Rejects with the primary's listen error (its `code`, e.g. EADDRINUSE).
 */
export function takeConnections(hostname: string, port: number, take: (socket: Socket) => void): Promise<TakenListener> {
  const address = `${hostname}|${port}`;
  const nth = asked.get(address) ?? 0;
  asked.set(address, nth + 1);
  const key = `${address}|${nth}`;
  if (!routing) {
    routing = true;
    process.on("message", (message: unknown, socket?: Socket) => {
      if (!isHandoff(message)) return;
      const server = served.get(message.key);
      if (message.sg === "handoff.conn") return socket && (server ? server.take(socket) : socket.destroy());
      if (message.sg === "handoff.listening") server?.listening(message.port);
      if (message.sg === "handoff.failed") server?.failed(message.code, message.message);
      if (message.sg === "handoff.stopped") server?.stopped();
    });
  }
  return new Promise<TakenListener>((resolve, reject) => {
    // What keeps the worker running while it serves: its server does not listen (node:cluster's
    // workers hold a timer for the same reason).
    let keepAlive: ReturnType<typeof setInterval> | undefined;
    let stopping: Promise<void> | undefined;
    let stoppedNow = () => {};
    let listened = false;
    const end = () => {
      clearInterval(keepAlive);
      served.delete(key);
      if (!listened) reject(new Error("the primary is gone"));
      stoppedNow();
    };
    process.once("disconnect", end);
    served.set(key, {
      take,
      listening(listeningPort) {
        listened = true;
        keepAlive = setInterval(() => {}, 2 ** 31 - 1);
        resolve({
          port: listeningPort,
          stop: () =>
            stopping ??= new Promise<void>((done) => {
              stoppedNow = () => {
                process.off("disconnect", end);
                done();
              };
              if (!send({ sg: "handoff.stop", key })) end();
            }),
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

function send(message: Handoff): boolean {
  if (process.connected !== true || process.send === undefined) return false;
  try {
    process.send(message);
    return true;
  } catch {
    return false;
  }
}
