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
  onFatalError(listener) {
    // A write to stdout or stderr after its reader went away (a log shipper that died, `| head`)
    // fails with EPIPE; unhandled, that error is an uncaught exception, whose log line fails the
    // same way: a loop that kept the process spinning and never exiting after a SIGTERM. Nobody
    // reads the output any more: not the app's failure, so not fatal.
    const onOutputError = () => {};
    process.stdout.on("error", onOutputError);
    process.stderr.on("error", onOutputError);
    const unsubscribe = onEachFatalKind(listener, (kind, handler) => {
      process.on(kind, handler);
      return () => process.off(kind, handler);
    });
    return () => {
      unsubscribe();
      process.stdout.off("error", onOutputError);
      process.stderr.off("error", onOutputError);
    };
  },
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};
