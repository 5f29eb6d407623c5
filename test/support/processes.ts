/** Child processes a test started (proxies, servers): ended by their PID, never left behind. */
import type { ChildProcess } from "node:child_process";

/** Sends `signal` (the process's own graceful stop), then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() at the exit itself, not when its output was read. */
  at: number;
}

/**
 * Resolves once the child has exited and its output has been read to the end ('close'): 'exit' alone
 * can come before the last lines on a busy machine (the final report, wrk's summary). A process
 * left holding the pipes (a worker outliving its primary) is not waited for past `graceMs`.
 */
export function exitWithOutput(child: ChildProcess, graceMs = 1_000): Promise<ChildExit> {
  return new Promise((resolve) => {
    let exit: ChildExit | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      clearTimeout(timer);
      resolve(exit!);
    };
    child.once("exit", (code, signal) => {
      exit = { code, signal, at: performance.now() };
      timer = setTimeout(done, graceMs);
    });
    child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
      exit ??= { code, signal, at: performance.now() };
      done();
    });
  });
}
