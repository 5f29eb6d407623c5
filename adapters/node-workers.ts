/**
 * Workers on Node: node:cluster (https://nodejs.org/api/cluster.html) starts them (cluster.fork
 * re-runs the entry with the same execArgv). The primary holds the listening socket and hands
 * connections to the workers round-robin itself (node-handoff.ts), so that a worker that stops
 * loses no connection the primary accepted, the last one included, and workers asked for port 0
 * share one.
 */
import { process } from "./node-process.ts";
import type { WorkersAdapter } from "../src/core.ts";
import { processChannel, spawnChild } from "./ipc-workers.ts";
import { HANDOFF_ENV, primaryLost, primaryServiceDraining, primaryTakes, type Taker } from "./node-handoff.ts";

type Cluster = typeof import("node:cluster").default;

/** A write to an IPC channel whose other end is gone. */
const CHANNEL_GONE = new Set(["EPIPE", "ECONNRESET", "ERR_IPC_CHANNEL_CLOSED"]);

/** Builtins on first use: loading node:cluster costs ~2.6 MiB and ~14 ms, paid only with workers. */
function builtin<T>(id: string): T {
  const load = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (load === undefined) {
    throw new TypeError(`serveGracefully: "workers" needs Node >= 20.16 (process.getBuiltinModule), this is ${process.version}`);
  }
  return load(id) as T;
}

/**
 * node:child_process keeps the last socket it sent open until the worker acknowledges it (then
 * closes its own copy): a worker that died first never will, and the client would wait for an
 * answer until the primary exits. Closed here (Node's internal field; nothing if it is absent).
 */
function closeUnacknowledged(child: unknown): void {
  const pending = (child as { _pendingMessage?: { handle?: { close?(): void } | null } | null })._pendingMessage;
  pending?.handle?.close?.();
}

export const nodeWorkers: WorkersAdapter = {
  mode: "cluster",
  sharesPortZero: true,
  // At the call, as on every runtime that cannot: not a start.failed line once the first fork fails.
  unsupported: () =>
    (process as { getBuiltinModule?: unknown }).getBuiltinModule === undefined
      ? `needs Node >= 20.16 (process.getBuiltinModule), this is ${process.version}`
      : undefined,
  serviceDraining: primaryServiceDraining,
  spawn(env, events) {
    const cluster = builtin<Cluster>("node:cluster");
    const worker = cluster.fork({ ...env, [HANDOFF_ENV]: "1" });
    // Every send with a callback: without one, a send to a worker that is gone is an 'error' on it.
    const taker: Taker = { send: (message, socket, callback = () => {}) => void worker.send(message as never, socket as never, callback) };
    const createServer = () => builtin<typeof import("node:net")>("node:net").createServer({ pauseOnConnect: true });
    let ended = false;
    worker.on("message", (message: unknown, socket?: import("node:net").Socket) => {
      if (!primaryTakes(taker, message, createServer, socket)) events.message(message);
    });
    worker.on("exit", (code: number | null, signal: string | null) => {
      closeUnacknowledged(worker.process);
      primaryLost(taker);
      if (ended) return;
      ended = true;
      events.exit(code, signal);
    });
    return {
      pid: worker.process.pid ?? -1,
      send(message) {
        if (!worker.isConnected()) return;
        try {
          worker.send(message as never, undefined, () => {});
        } catch {
          // the worker is exiting
        }
      },
      kill: (signal) => void worker.process.kill(signal),
    };
  },
  connect() {
    // A cluster worker whose IPC channel closes exits at once (code 0) unless it disconnected on
    // purpose: marked so, it stays and drains itself when the primary dies.
    const cluster = builtin<Cluster>("node:cluster");
    if (cluster.worker) {
      cluster.worker.exitedAfterDisconnect = true;
      // node:cluster writes its own messages (the ack of each connection it hands over) without a
      // callback: one written as the primary dies fails with EPIPE, which cluster emits on its Worker,
      // where no listener made it an uncaught exception (the orphan's drain then ended with exit 1).
      // The channel's 'disconnect' follows, and the worker drains as an orphan.
      cluster.worker.on("error", (error: NodeJS.ErrnoException) => {
        if (!CHANNEL_GONE.has(error.code ?? "")) throw error;
      });
    }
    return processChannel(process);
  },
  readText(path) {
    try {
      return builtin<typeof import("node:fs")>("node:fs").readFileSync(path, "latin1");
    } catch {
      return undefined;
    }
  },
  cpuCount: () => builtin<typeof import("node:os")>("node:os").availableParallelism(),
  pid: () => process.pid,
};

/**
 * Workers as child processes that each listen with reusePort (Bun): the same runtime, flags and
 * entry. Linux balances connections over reusePort listeners; macOS gives them all to one.
 */
export const childWorkers = (command: () => { file: string; args: string[] }): WorkersAdapter => ({
  mode: "reusePort",
  sharesPortZero: false,
  unsupported: () =>
    process.platform === "linux"
      ? undefined
      : `${process.platform} does not balance connections over reusePort listeners: every connection would go to one worker; use workers: 1 (or Node's node:cluster)`,
  spawn(env, events) {
    const { file, args } = command();
    const spawn = builtin<typeof import("node:child_process")>("node:child_process").spawn;
    return spawnChild(spawn as never, file, args, process.env, env, events);
  },
  connect: () => processChannel(process),
  readText: nodeWorkers.readText,
  cpuCount: nodeWorkers.cpuCount,
  pid: () => process.pid,
});
