/**
 * Signals, fatal errors, exit and environment through node:process: shared by the Node and Bun
 * adapters (Bun implements node:process; https://bun.sh/docs/runtime/nodejs-apis).
 */
import process from "node:process";
import { type ProcessAdapter, readAncestors } from "../src/core.ts";

export const nodeProcess: ProcessAdapter = {
  async processOrigin() {
    // PID 1 gets the signal itself: nothing to read. Otherwise walk /proc up to PID 1, with async
    // reads so the walk (2 small files a level) never holds up the start.
    if (process.pid === 1) return { pid: 1, ppid: process.ppid, ancestors: [] };
    // After the start (a timer, not a microtask): loading fs/promises cost Bun ~4 ms before the
    // listening line otherwise.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const { readFile } = await import("node:fs/promises");
    const ancestors = await readAncestors(process.ppid, (path) => readFile(path, "latin1"));
    return ancestors && { pid: process.pid, ppid: process.ppid, ancestors }; // undefined: not Linux
  },
  onSignal(signal, listener) {
    process.on(signal, listener);
    return () => process.off(signal, listener);
  },
  onFatalError(listener) {
    const onException = (error: unknown) => listener(error, "uncaughtException");
    const onRejection = (reason: unknown) => listener(reason, "unhandledRejection");
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
    return () => {
      process.off("uncaughtException", onException);
      process.off("unhandledRejection", onRejection);
    };
  },
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};
