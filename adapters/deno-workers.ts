/**
 * Workers on Deno without node:process. Node's IPC channel can only be read through Deno's
 * `process` global, which costs every process that touches it ~4 MiB of RSS (measured, Deno 2.9.6).
 * Instead the primary starts each worker with Deno.Command, and they talk over a loopback TCP
 * connection, one JSON message per line (https://docs.deno.com/api/deno/~/Deno.connect). The
 * worker finds its primary's port and its own random token in its environment and says the token
 * first; a connection without a known token is closed. The primary's end closes when it dies
 * (killed, OOM): the worker reads the end of the stream, as it would see an IPC channel close.
 */
import type { WorkerChannel, WorkerEvents, WorkerProcess } from "../src/core.ts";

/** Set in a worker's environment: `<port>/<token>` of its primary's channel. Deleted once read. */
export const CHANNEL_ENV = "SERVE_GRACEFULLY_CHANNEL";
/** The longest line either side accepts: a worker's report is bounded far below this. */
export const MAX_LINE_CHARS: number = 1024 * 1024;
/** How long a connection may take to say its token. */
const HELLO_LIMIT_MS = 10_000;
/** How long an exited worker's last lines (its report) may take to be read before its exit is told. */
const LAST_LINES_LIMIT_MS = 1_000;
/** Connections that have not said a token yet, at most (twice the most workers there can be). */
const MAX_UNSAID = 2048;
/** Orders waiting for a worker that has not connected yet (a drain and a force at most). */
const MAX_QUEUED = 8;
const HOST = "127.0.0.1";

interface Conn {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}
interface Listener extends AsyncIterable<Conn> {
  readonly addr: { port: number };
  unref?(): void;
}
interface Child {
  readonly pid: number;
  readonly status: Promise<{ code: number; signal: string | null }>;
  kill(signal: string): void;
}
/** The slice of the Deno namespace this file uses. */
export interface DenoWorkersApi {
  listen(options: { hostname: string; port: number }): Listener;
  connect(options: { hostname: string; port: number }): Promise<Conn>;
  Command: new (command: string, options: {
    args: string[];
    env: Record<string, string>;
    stdin: "inherit";
    stdout: "inherit";
    stderr: "inherit";
  }) => { spawn(): Child };
  env: { get(name: string): string | undefined; delete(name: string): void };
}

/** What sends lines: a stream's writer (the primary) or the connection itself (a worker). */
interface Writer {
  write(bytes: Uint8Array): Promise<void>;
}
const encoder = new TextEncoder();
const lineOf = (message: unknown): Uint8Array => encoder.encode(`${JSON.stringify(message)}\n`);

/** Calls `onMessage` with each line's JSON until `next` gives no more; rejects on a line that is not JSON or too long. */
async function readLines(next: () => Promise<Uint8Array | undefined>, onMessage: (message: unknown) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for (let chunk = await next(); chunk !== undefined; chunk = await next()) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      onMessage(JSON.parse(line));
    }
    if (buffered.length > MAX_LINE_CHARS) throw new RangeError(`a line over ${MAX_LINE_CHARS} characters`);
  }
}

/** A stream's chunks, then undefined at its end. */
function chunksOf(readable: ReadableStream<Uint8Array>): () => Promise<Uint8Array | undefined> {
  const reader = readable.getReader();
  return () => reader.read().then((chunk) => chunk.value);
}

/**
 * A connection's chunks read into one buffer (each is decoded before the next read), then
 * undefined at its end. A worker builds no ReadableStream or WritableStream on its connection:
 * their allocations took a worker's start past V8's first young-generation collection, ~1 MiB of
 * RSS per worker (39.6 -> 38.4 MiB against bare's 36.6, one-route app, Deno 2.9.6, 2026-12-06;
 * with a larger app that collection comes anyway and this saves 0.3 MiB).
 */
function chunksRead(conn: Conn): () => Promise<Uint8Array | undefined> {
  const buffer = new Uint8Array(4096);
  return () => conn.read(buffer).then((n) => (n === null ? undefined : buffer.subarray(0, n)));
}

/** Writes to the connection itself, one line after another, each whole (a write may take part of it). */
function writerOf(conn: Conn): Writer {
  let last: Promise<void> = Promise.resolve();
  const writeAll = async (bytes: Uint8Array) => {
    for (let at = 0; at < bytes.length;) {
      const written = await conn.write(bytes.subarray(at));
      if (!(written > 0)) throw new Error("the connection to the primary took no bytes");
      at += written;
    }
  };
  return {
    write(bytes) {
      const written = last.then(() => writeAll(bytes));
      last = written.catch(() => {});
      return written;
    },
  };
}

/** What the primary keeps for a worker until its connection comes. */
interface Expected {
  connected(writer: Writer, lastLines: Promise<void>): void;
  message(message: unknown): void;
}

/** The primary's side: one loopback listener for every worker, opened with the first. */
export class DenoWorkerChannels {
  readonly #deno: DenoWorkersApi;
  #listener: Listener | undefined;
  readonly #expected = new Map<string, Expected>();
  #unsaid = 0;

  constructor(deno: DenoWorkersApi) {
    this.#deno = deno;
  }

  /** Starts `command args` as a worker, with the primary's stdio and environment plus `env` and its channel. */
  spawn(command: string, args: string[], env: Record<string, string>, events: WorkerEvents): WorkerProcess {
    const token = randomToken();
    let writer: Writer | undefined;
    let exited = false;
    const queued: Uint8Array[] = [];
    // Its lines, read to the end of its connection; pending until it connects.
    let linesRead!: (read: Promise<void>) => void;
    const lastLines = new Promise<void>((resolve) => (linesRead = (read) => void read.then(resolve, resolve)));
    this.#expected.set(token, {
      connected: (connectedWriter, read) => {
        writer = connectedWriter;
        linesRead(read);
        for (const line of queued.splice(0)) writer.write(line).catch(() => {});
      },
      message: (message) => events.message(message),
    });
    let child: Child;
    try {
      const channel = `${this.#port()}/${token}`;
      child = new this.#deno.Command(command, {
        args,
        env: { ...env, [CHANNEL_ENV]: channel },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch {
      // No such file, or not permitted: a worker that never started ends here, as one that exited 1.
      this.#expected.delete(token);
      queueMicrotask(() => events.exit(1, null));
      return { pid: -1, send() {}, kill() {} };
    }
    void child.status.then(async ({ code, signal }) => {
      // Its report (or a start failure's cause) may still be on the way: the end of its stream comes
      // with its exit. A busy primary may not even have read its hello yet: the token stays known
      // until then, or the connection was cut as a stranger's and its lines lost (one that never
      // connected is told LAST_LINES_LIMIT_MS late).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([lastLines, new Promise<void>((resolve) => (timer = setTimeout(resolve, LAST_LINES_LIMIT_MS)))]);
      clearTimeout(timer);
      this.#expected.delete(token);
      exited = true;
      writer = undefined;
      events.exit(signal === null ? code : null, signal);
    });
    return {
      pid: child.pid,
      send(message) {
        if (exited) return;
        const line = lineOf(message);
        if (writer !== undefined) writer.write(line).catch(() => {});
        else if (queued.length < MAX_QUEUED) queued.push(line);
      },
      kill(signal) {
        try {
          child.kill(signal);
        } catch {
          // it has exited
        }
      },
    };
  }

  /** The listener's port, listening on first use. */
  #port(): number {
    if (this.#listener === undefined) {
      this.#listener = this.#deno.listen({ hostname: HOST, port: 0 });
      // Waiting for workers keeps nothing alive: a primary whose workers are gone may end.
      this.#listener.unref?.();
      void this.#accept(this.#listener);
    }
    return this.#listener.addr.port;
  }

  async #accept(listener: Listener): Promise<void> {
    for await (const conn of listener) void this.#serve(conn);
  }

  /** One connection: its first line must be a token we gave out, then each line is a message. */
  async #serve(conn: Conn): Promise<void> {
    if (this.#unsaid >= MAX_UNSAID) return close(conn);
    // Small messages each way (closed, then all-closed; exiting, then exit-ok): not held by Nagle's
    // algorithm for the other side's delayed ACK (~40 ms each, measured).
    conn.setNoDelay?.(true);
    this.#unsaid++;
    let worker: Expected | undefined;
    const hello = setTimeout(() => worker === undefined && close(conn), HELLO_LIMIT_MS);
    let read!: () => void;
    const done = new Promise<void>((resolve) => (read = resolve));
    try {
      await readLines(chunksOf(conn.readable), (message) => {
        if (worker !== undefined) return worker.message(message);
        const token = (message as { token?: unknown } | null)?.token;
        worker = typeof token === "string" ? this.#expected.get(token) : undefined;
        if (worker === undefined) throw new Error("unknown token");
        this.#expected.delete(token as string);
        this.#unsaid--;
        clearTimeout(hello);
        worker.connected(conn.writable.getWriter(), done);
      });
    } catch {
      // An unknown peer, a broken line, or the worker gone: the connection ends.
    } finally {
      if (worker === undefined) this.#unsaid--;
      clearTimeout(hello);
      close(conn);
      read();
    }
  }
}

/** The worker's side: its channel to the primary, from its environment; closed when there is none. */
export function connectToPrimary(deno: DenoWorkersApi): WorkerChannel {
  const [port, token] = (deno.env.get(CHANNEL_ENV) ?? "").split("/");
  let closed = port === undefined || token === undefined || !isDigits(port) || token === "";
  const onClose: (() => void)[] = [];
  const onMessage: ((message: unknown) => void)[] = [];
  let connected!: (writer: Writer | undefined) => void;
  const writer = new Promise<Writer | undefined>((resolve) => (connected = resolve));
  if (closed) {
    connected(undefined);
    return channel();
  }
  // Not inherited by this worker's own child processes: they are not workers of ours.
  deno.env.delete(CHANNEL_ENV);
  const end = () => {
    closed = true;
    for (const listener of onClose.splice(0)) listener();
  };
  deno.connect({ hostname: HOST, port: Number(port) })
    .then(async (conn) => {
      conn.setNoDelay?.(true); // as the primary's end
      const w = writerOf(conn);
      await w.write(lineOf({ token }));
      connected(w);
      try {
        await readLines(chunksRead(conn), (message) => onMessage.forEach((listener) => listener(message)));
      } finally {
        close(conn);
      }
    })
    .catch(() => {})
    .finally(() => {
      connected(undefined);
      end();
    });
  return channel();

  function channel(): WorkerChannel {
    return {
      get closed() {
        return closed;
      },
      send: (message) => writer.then((w) => (closed ? undefined : w?.write(lineOf(message)))).catch(() => {}),
      onMessage: (listener) => void onMessage.push(listener),
      onClose(listener) {
        if (closed) queueMicrotask(listener);
        else onClose.push(listener);
      },
    };
  }
}

function close(conn: Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Whether `text` is one or more ASCII digits, as /^\d+$/ says (without the regular expression engine: a worker's RSS). */
function isDigits(text: string): boolean {
  if (text === "") return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** 128 random bits, hex. */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
