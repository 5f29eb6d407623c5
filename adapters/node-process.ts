/**
 * Signals, fatal errors, exit and environment through node:process: shared by the Node and Bun
 * adapters (Bun implements node:process; https://bun.sh/docs/runtime/nodejs-apis).
 */
import { onEachFatalKind, type ProcessAdapter, processOriginReading } from "../src/core.ts";

/**
 * The global, not `import process from "node:process"`: on Node 20 that import alone costs 6-9 ms
 * of the start (Bun 0.8 ms; measured), the same object either way.
 */
export const process: NodeJS.Process = globalThis.process;

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
  onFatalError: (listener) => watchFatalErrors(listener, "listen"),
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};

/**
 * Uncaught exceptions and unhandled rejections through node:process, and the output streams'
 * errors ignored: a write to stdout or stderr after its reader went away (a log shipper that died,
 * `| head`) fails with EPIPE; unhandled, that error is an uncaught exception, whose log line fails
 * the same way: a loop that kept the process spinning and never exiting after a SIGTERM (on Bun the
 * event loop hangs). Nobody reads the output any more: not the app's failure, so not fatal.
 * `output` "listen" gives both streams an error listener now (Node); "recognise" leaves them alone
 * and passes over, in the fatal-error handler, an error that is a stream's own (Bun: see below).
 */
export function watchFatalErrors(
  listener: Parameters<ProcessAdapter["onFatalError"]>[0],
  output: "listen" | "recognise",
): () => void {
  const onOutputError = () => {};
  if (output === "listen") {
    process.stdout.on("error", onOutputError);
    process.stderr.on("error", onOutputError);
  }
  const unsubscribe = onEachFatalKind(
    output === "listen" ? listener : (error, kind) => void (outputStreamError(error) || listener(error, kind)),
    (kind, handler) => {
      process.on(kind, handler);
      return () => process.off(kind, handler);
    },
  );
  return () => {
    unsubscribe();
    if (output === "recognise") return;
    process.stdout.off("error", onOutputError);
    process.stderr.off("error", onOutputError);
  };
}

/**
 * Bun builds process.stdout and process.stderr on first use (node:stream and its fs streams: ~7 MiB
 * of RSS and ~22 ms of CPU on 1.4.5), and an error listener would build them in every process,
 * also one that never writes to them (console writes without them). A failed write on a stream
 * without a listener reaches the process as an unhandled rejection (measured: EPIPE, syscall
 * "write"), and the stream keeps that very error as `errored`: recognised here, from the start.
 * Only a failed write looks at the streams (building them then, if nothing had).
 */
function outputStreamError(error: unknown): boolean {
  if (typeof error !== "object" || error === null || (error as { syscall?: unknown }).syscall !== "write") return false;
  return error === process.stdout.errored || error === process.stderr.errored;
}
