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
