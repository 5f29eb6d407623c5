/**
 * Signals, fatal errors, exit and environment through node:process: shared by the Node and Bun
 * adapters (Bun implements node:process; https://bun.sh/docs/runtime/nodejs-apis).
 */
import process from "node:process";
import { type ProcessAdapter, type ProcessOrigin, readAncestorsIfInitMatters } from "../src/core.ts";

export const nodeProcess: ProcessAdapter = {
  processOrigin: () =>
    processOriginReading(async (path) => {
      const { readFile } = await import("node:fs/promises");
      return readFile(path, "latin1");
    }),
  onSignal(signal, listener) {
    process.on(signal, listener);
    return () => process.off(signal, listener);
  },
  onFatalError(listener) {
    const onException = (error: unknown) => listener(error, "uncaughtException");
    const onRejection = (reason: unknown) => listener(reason, "unhandledRejection");
    // A write to stdout or stderr after its reader went away (a log shipper that died, `| head`)
    // fails with EPIPE; unhandled, that error is an uncaught exception, whose log line fails the
    // same way: a loop that kept the process spinning and never exiting after a SIGTERM. Nobody
    // reads the output any more: not the app's failure, so not fatal.
    const onOutputError = () => {};
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
    process.stdout.on("error", onOutputError);
    process.stderr.on("error", onOutputError);
    return () => {
      process.off("uncaughtException", onException);
      process.off("unhandledRejection", onRejection);
      process.stdout.off("error", onOutputError);
      process.stderr.off("error", onOutputError);
    };
  },
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};

/**
 * Who started this process, read with `read` (each runtime's cheapest file read: loading
 * node:fs/promises costs Bun ~2 MiB of RSS, a first Bun.file read ~0.5 MiB). PID 1 gets the signal
 * itself: nothing to read. Otherwise read PID 1's command, and walk /proc up to it only when PID 1
 * is a shell, package manager or container init, after the start (a timer, not a
 * microtask, so no read holds up the listening line).
 */
export async function processOriginReading(read: (path: string) => Promise<string>): Promise<ProcessOrigin | undefined> {
  if (process.pid === 1) return { pid: 1, ppid: process.ppid, ancestors: [] };
  await new Promise((resolve) => setTimeout(resolve, 0));
  const ancestors = await readAncestorsIfInitMatters(process.ppid, read);
  return ancestors && { pid: process.pid, ppid: process.ppid, ancestors }; // undefined: not Linux
}
