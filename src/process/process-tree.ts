/**
 * The chain of processes above this one, read from Linux /proc through a reader the adapter
 * passes in (the core touches no file system): parent first, PID 1 last.
 */
import { initMayWithholdSignals } from "./platform.ts";
import type { Ancestor, ProcessOrigin } from "../types.ts";

/** The walk stops here even if PID 1 is not reached (container trees are 2-5 deep). */
export const MAX_ANCESTORS = 16;

/** The parent pid from /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and ")". */
export function parentPidFromStat(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) && ppid >= 0 ? ppid : undefined;
}

/**
 * The arguments in /proc/<pid>/cmdline (NUL-separated). A process that renamed itself (npm sets
 * its title to "npm start") shows one argument with spaces in it, padded with NULs: split it.
 */
export function commandFromCmdline(cmdline: string): string[] {
  const args = cmdline.split("\0").filter((arg) => arg !== "");
  if (args.length === 1 && args[0]!.includes(" ")) return args[0]!.trim().split(/\s+/);
  return args;
}

/**
 * Walk from `ppid` up to PID 1 (at most MAX_ANCESTORS steps). `read` returns a /proc file's text
 * and throws where there is no /proc (or no permission): then the answer is undefined.
 */
export async function readAncestors(ppid: number, read: (path: string) => Promise<string>): Promise<Ancestor[] | undefined> {
  const ancestors: Ancestor[] = [];
  try {
    for (let pid = ppid; pid > 0 && ancestors.length < MAX_ANCESTORS;) {
      ancestors.push({ pid, command: commandFromCmdline(await read(`/proc/${pid}/cmdline`)) });
      if (pid === 1) break;
      const next = parentPidFromStat(await read(`/proc/${pid}/stat`));
      if (next === undefined || next === pid) break;
      pid = next;
    }
  } catch {
    // A parent that exited mid-walk (its /proc entry is gone) or no /proc at all: what was read
    // stands only if it reached PID 1, which the warning checks.
    if (ancestors.length === 0) return undefined;
  }
  return ancestors;
}

/**
 * PID 1's command first: under an init the warning ignores (systemd, a VM agent, the runtime's own
 * parent chain ending anywhere but a shell, package manager or container init), the rest of the
 * walk cannot change the answer, so it is skipped. Reads cost RSS (measured on Bun: the full walk
 * ~1.2 MiB, PID 1 alone ~0.6), and most hosts are in that case. Then the chain is PID 1 alone.
 */
export async function readAncestorsIfInitMatters(ppid: number, read: (path: string) => Promise<string>): Promise<Ancestor[] | undefined> {
  let init: string[];
  try {
    init = commandFromCmdline(await read("/proc/1/cmdline"));
  } catch {
    return undefined; // no /proc (or no permission): cannot tell
  }
  return initMayWithholdSignals(init) ? readAncestors(ppid, read) : [{ pid: 1, command: init }];
}

/** One turn of the event loop: a timer, not a microtask. */
const nextTurn = (): Promise<unknown> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Who started this process, read with `read` (each runtime's cheapest file read: loading
 * node:fs/promises costs Bun ~2 MiB of RSS, a first Bun.file read ~0.5 MiB). PID 1 gets the signal
 * itself: nothing to read. Otherwise read PID 1's command, and walk /proc up to it only when PID 1
 * is a shell, package manager or container init, after the start (`afterStart`: by default a
 * timer, not a microtask, so no read holds up the listening line; an adapter whose `read` is an
 * asynchronous file read, which already lets the listen run first, passes one that waits for nothing).
 */
export async function processOriginReading(
  pid: number,
  ppid: number,
  read: (path: string) => Promise<string>,
  afterStart: () => Promise<unknown> = nextTurn,
): Promise<ProcessOrigin | undefined> {
  if (pid === 1) return { pid: 1, ppid, ancestors: [] };
  await afterStart();
  const ancestors = await readAncestorsIfInitMatters(ppid, read);
  return ancestors && { pid, ppid, ancestors }; // undefined: not Linux
}
