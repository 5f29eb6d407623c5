/**
 * Signals, fatal errors, exit and environment through node:process: shared by the Node and Bun
 * adapters (Bun implements node:process; https://bun.sh/docs/runtime/nodejs-apis).
 */
import process from "node:process";
import { onEachFatalKind, type ProcessAdapter, processOriginReading } from "../src/core.ts";

export const nodeProcess: ProcessAdapter = {
  processOrigin: () =>
    processOriginReading(process.pid, process.ppid, async (path) => {
      const { readFile } = await import("node:fs/promises");
      return readFile(path, "latin1");
    }),
  onSignal(signal, listener) {
    process.on(signal, listener);
    return () => process.off(signal, listener);
  },
  onFatalError: (listener) =>
    onEachFatalKind(listener, (kind, handler) => {
      process.on(kind, handler);
      return () => process.off(kind, handler);
    }),
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};
