/**
 * The deadline's backstop on its own thread, for Bun and Deno. Their console writes synchronously:
 * a log pipe that stays full (a stalled log shipper) blocks the first line of the drain, and a
 * blocked event loop runs no deadline timer (a probe: still running 40 s after SIGTERM with a 5 s
 * timeout). A Worker created when a drain that ends the process begins SIGKILLs the process if it
 * is still there `ms` later. Nothing runs, and no memory is spent, before a drain.
 */

/** `kill` is the statement that ends this process by SIGKILL, run inside the worker. */
export function exitWatchdog(kill: string): (ms: number) => () => void {
  return (ms) => {
    const source = `self.onmessage = (event) => setTimeout(() => { ${kill} }, event.data);`;
    const url = URL.createObjectURL(new Blob([source], { type: "application/javascript" }));
    const worker = new Worker(url, { type: "module" });
    worker.postMessage(ms);
    // A Bun worker would keep a process that is done from ending by itself.
    (worker as { unref?: () => void }).unref?.();
    return () => {
      worker.terminate();
      URL.revokeObjectURL(url);
    };
  };
}

/**
 * Node's: its console writes pipes asynchronously, but a logger that flushes at the exit blocks it
 * the same way (pino's default destination flushes synchronously in the `exit` event, retrying a
 * full pipe for ever). Armed only for such a logger: a worker thread made at the drain costs Node's
 * idle exit 6 ms, 66 under load (docs/logging.md). node:worker_threads is loaded then; worker
 * threads run until the process really exits, after the `exit` event.
 */
export function nodeExitWatchdog(ms: number, flushingLogger: boolean): () => void {
  if (!flushingLogger) return () => {};
  let cancelled = false;
  let terminate = () => {};
  void import("node:worker_threads").then(({ Worker }) => {
    if (cancelled) return;
    const source =
      `require("node:worker_threads").parentPort.once("message", (ms) => setTimeout(() => process.kill(process.pid, "SIGKILL"), ms));`;
    const worker = new Worker(source, { eval: true });
    worker.postMessage(ms);
    worker.unref();
    terminate = () => void worker.terminate();
  }, () => {});
  return () => {
    cancelled = true;
    terminate();
  };
}
