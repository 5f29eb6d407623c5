/**
 * Signals, fatal errors, exit and environment through node:process: shared by the Node and Bun
 * adapters (Bun implements node:process; https://bun.sh/docs/runtime/nodejs-apis).
 */
import process from "node:process";
import type { RuntimeAdapter } from "../src/core.ts";

export const nodeProcess: Pick<RuntimeAdapter, "onSignal" | "onFatalError" | "exit" | "env" | "processOrigin"> = {
  async processOrigin() {
    // Only a parent that is PID 1 can swallow the signal; anything else needs no look (and no fs).
    if (process.ppid !== 1 || process.pid === 1) return { pid: process.pid, ppid: process.ppid, parent: [] };
    try {
      const { readFileSync } = await import("node:fs");
      const parent = readFileSync(`/proc/${process.ppid}/cmdline`, "utf8").split("\0").filter(Boolean);
      return { pid: process.pid, ppid: process.ppid, parent };
    } catch {
      return undefined; // not Linux, or /proc hidden
    }
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
