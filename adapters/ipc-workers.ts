/**
 * Workers over node:child_process's IPC channel, for Node and Bun
 * (https://nodejs.org/api/child_process.html#subprocesssendmessage-sendhandle-options-callback):
 * the worker's channel to its primary, and a primary that starts the workers as child processes
 * (Bun: each listens itself with reusePort, the kernel balances). Builtins are loaded on first use
 * (process.getBuiltinModule), so a process without workers pays nothing for them. Deno's workers
 * use a loopback connection instead (deno-workers.ts).
 */
import type { WorkerChannel, WorkerEvents, WorkerProcess } from "../src/core.ts";

/** The slice of a node:process-like object the channel uses. */
export interface IpcProcess {
  connected?: boolean;
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
  on(event: "disconnect", listener: () => void): unknown;
}

/** The worker's channel: process.send and its messages; 'disconnect' when the primary is gone. */
export function processChannel(proc: IpcProcess): WorkerChannel {
  let closed = proc.connected !== true;
  const onClose: (() => void)[] = [];
  proc.on("disconnect", () => {
    closed = true;
    for (const listener of onClose.splice(0)) listener();
  });
  return {
    get closed() {
      return closed;
    },
    send: (message, confirm = true) =>
      new Promise<void>((resolve) => {
        if (closed || proc.send === undefined) return resolve();
        try {
          // Bun calls a send's callback through process.nextTick, and a process's first nextTick
          // builds Bun's tick queue: ~0.5 MiB of RSS per worker (1.4.5). No callback unless asked.
          if (confirm) proc.send(message, () => resolve());
          else {
            proc.send(message);
            resolve();
          }
        } catch {
          resolve(); // closed in the meantime
        }
      }),
    onMessage: (listener) => void proc.on("message", listener),
    onClose(listener) {
      if (closed) queueMicrotask(listener);
      else onClose.push(listener);
    },
  };
}

/** The slice of node:child_process's ChildProcess the primary uses. */
interface Child {
  pid?: number;
  connected: boolean;
  send(message: unknown, callback: (error: Error | null) => void): boolean;
  kill(signal: string): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
  on(event: "exit", listener: (code: number | null, signal: string | null) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
}
type Spawn = (command: string, args: string[], options: Record<string, unknown>) => Child;

/** Starts `command args` as a worker with an IPC channel, the primary's stdio and environment plus `env`. */
export function spawnChild(
  spawn: Spawn,
  command: string,
  args: string[],
  baseEnv: Record<string, string | undefined>,
  env: Record<string, string>,
  events: WorkerEvents,
): WorkerProcess {
  const child = spawn(command, args, { env: { ...baseEnv, ...env }, stdio: ["inherit", "inherit", "inherit", "ipc"] });
  let ended = false;
  const end = (code: number | null, signal: string | null) => {
    if (ended) return;
    ended = true;
    events.exit(code, signal);
  };
  child.on("message", (message) => events.message(message));
  child.on("exit", end);
  // A spawn that fails (no such file) never exits: it ends here. Other errors (a failed kill or send) change nothing.
  child.on("error", () => child.pid === undefined && end(1, null));
  return {
    pid: child.pid ?? -1,
    send(message) {
      if (!child.connected) return;
      try {
        child.send(message, () => {});
      } catch {
        // the worker is exiting
      }
    },
    kill: (signal) => void child.kill(signal),
  };
}
