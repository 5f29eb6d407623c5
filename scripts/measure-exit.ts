/**
 * How long a server takes to exit with many idle keep-alive connections, beside the floor: the
 * same process ended with its sockets open. For each runtime and connection count, alternating
 * the modes run by run:
 *
 *   kill      SIGKILL to the bare server: signal sent -> process reaped (the kernel alone)
 *   exit      SIGTERM to a bare server that calls exit at once (the runtime's own exit path)
 *   graceful  SIGTERM to serveGracefully (default options): the whole drain, then exit
 *
 * Each run: a fresh server (scripts/exit-server.ts); N connections opened by bench/idle-holder.mjs
 * in a process of its own, each sending one GET / and then left idle; 300 ms to settle; the signal;
 * the time until this process sees the child's exit. Medians of --runs runs.
 *
 *   node --import tsx scripts/measure-exit.ts [--runtimes node,bun,deno] [--connections 1000,10000]
 *        [--runs 5] [--modes kill,exit,graceful] [--pin] [--json FILE]
 *
 * 10,000 connections need 10,000+ file descriptors in the server and in the holder: run it under
 * `ulimit -n 65536` (or the hard limit) when the soft limit is lower.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
};
const list = (name: string, fallback: string) => arg(name, fallback).split(",").map((s) => s.trim()).filter(Boolean);
const RUNTIMES = list("--runtimes", "node,bun,deno");
const COUNTS = list("--connections", "1000,10000").map(Number);
const RUNS = Number(arg("--runs", "5"));
const MODES = list("--modes", "kill,exit,graceful") as Mode[];
const JSON_OUT = arg("--json", "");
/** --pin: the server on CPU 1 and the holder on CPU 0 (taskset), so they do not share a core. */
const PIN = process.argv.includes("--pin");
const pinned = (
  cpu: number,
  command: string,
  args: string[],
): [string, string[]] => (PIN ? ["taskset", ["-c", String(cpu), command, ...args]] : [command, args]);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 100) throw new RangeError("--runs must be 1-100");
if (COUNTS.some((n) => !Number.isInteger(n) || n < 0 || n > 60_000)) throw new RangeError("--connections: integers 0-60000");
type Mode = "kill" | "exit" | "graceful";

const bin = (name: string) => path.join(ROOT, "node_modules", ".bin", name);
const SERVER = path.join(ROOT, "scripts", "exit-server.ts");
const COMMANDS: Record<string, [string, string[]]> = {
  node: [process.execPath, ["--import", "tsx", SERVER]],
  bun: [bin("bun"), [SERVER]],
  deno: [bin("deno"), ["run", "-A", "--quiet", SERVER]],
};
const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const children = new Set<ChildProcess>();
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

/** Lines of JSON from a child's stdout, awaited one key at a time with a deadline. */
function lines(child: ChildProcess, seen: Record<string, unknown>[] = []) {
  let wake = () => {};
  let buffer = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      try {
        seen.push(JSON.parse(buffer.slice(0, nl)));
      } catch {
        // Not a JSON line (a runtime's own output): not ours to read.
      }
      buffer = buffer.slice(nl + 1);
    }
    wake();
  });
  child.once("exit", () => wake());
  return async (key: string, ms: number): Promise<Record<string, unknown>> => {
    const deadline = now() + ms;
    for (;;) {
      const i = seen.findIndex((l) => key in l || "error" in l);
      if (i >= 0) {
        const line = seen.splice(i, 1)[0]!;
        if ("error" in line) throw new Error(String(line.error));
        return line;
      }
      if (now() >= deadline || child.exitCode !== null || child.signalCode !== null) throw new Error(`no "${key}" within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - now());
        wake = () => (clearTimeout(timer), resolve());
      });
    }
  };
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

interface Run {
  ms: number;
  open: number;
  exit: string;
  /** graceful: the drain's own durationMs (drain.end), signal handled to report logged. */
  drainMs?: number;
}

async function once(runtime: string, mode: Mode, connections: number): Promise<Run> {
  const [command, args] = pinned(1, ...COMMANDS[runtime]!);
  const server = track(
    spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, EXIT_MODE: mode === "kill" ? "bare" : mode, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const exited = new Promise<{ at: number; exit: string }>((resolve) =>
    server.once("exit", (code, signal) => resolve({ at: now(), exit: signal ?? String(code) }))
  );
  let holder: ChildProcess | undefined;
  try {
    const logged: Record<string, unknown>[] = [];
    const port = (await lines(server, logged)("exitServer", 20_000)).port as number;
    let open = 0;
    if (connections > 0) {
      holder = track(
        spawn(...pinned(0, process.execPath, [path.join(ROOT, "bench", "idle-holder.mjs"), String(port), String(connections)]), {
          stdio: ["pipe", "pipe", "inherit"],
        }),
      );
      const next = lines(holder);
      await next("ready", 60_000);
      await sleep(300); // settle, well inside every runtime's keep-alive timeout (Node's is 5 s)
      holder.stdin!.write("status\n");
      open = (await next("open", 5_000)).open as number;
      // Node closes a connection idle for 5 s (keepAliveTimeout): opening 10,000 on a loaded machine can take longer.
      if (open < connections) console.error(`warning: ${runtime} ${mode}: only ${open}/${connections} connections open at the signal`);
    } else {
      await sleep(300);
    }
    const t0 = now();
    server.kill(mode === "kill" ? "SIGKILL" : "SIGTERM");
    const result = await Promise.race([exited, sleep(10_000).then(() => undefined)]);
    if (result === undefined) return { ms: NaN, open, exit: "no exit within 10 s" };
    await Promise.race([new Promise((resolve) => server.once("close", resolve)), sleep(1_000)]); // the last lines
    const end = logged.find((l) => l.event === "drain.end");
    return { ms: result.at - t0, open, exit: result.exit, ...(end ? { drainMs: r1(end.durationMs as number) } : {}) };
  } finally {
    holder?.kill("SIGKILL");
    server.kill("SIGKILL");
    if (holder && holder.exitCode === null && holder.signalCode === null) await new Promise((resolve) => holder!.once("exit", resolve));
    await Promise.race([exited, sleep(5_000)]);
  }
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};
const r1 = (n: number) => Math.round(n * 10) / 10;

const results: Record<
  string,
  Record<
    string,
    Record<string, { medianMs: number; minMs: number; runs: number[]; openAtSignal: number; exit: string[]; drainMs?: number }>
  >
> = {};
for (const runtime of RUNTIMES) {
  if (!COMMANDS[runtime]) throw new Error(`unknown runtime ${runtime}`);
  for (const connections of COUNTS) {
    const runs = Object.fromEntries(MODES.map((m) => [m, [] as Run[]]));
    for (let i = 0; i < RUNS; i++) {
      for (const mode of i % 2 === 0 ? MODES : [...MODES].reverse()) runs[mode]!.push(await once(runtime, mode, connections));
    }
    const row = Object.fromEntries(MODES.map((m) => [m, {
      medianMs: r1(median(runs[m]!.map((r) => r.ms))),
      minMs: r1(Math.min(...runs[m]!.map((r) => r.ms))),
      runs: runs[m]!.map((r) => r1(r.ms)),
      openAtSignal: Math.min(...runs[m]!.map((r) => r.open)),
      exit: [...new Set(runs[m]!.map((r) => r.exit))],
      ...(m === "graceful" ? { drainMs: r1(median(runs[m]!.flatMap((r) => (r.drainMs === undefined ? [] : [r.drainMs])))) } : {}),
    }]));
    (results[runtime] ??= {})[String(connections)] = row;
    const ratio = (["exit", "kill"] as const).filter((m) => row.graceful && row[m]).map((m) =>
      ` graceful/${m} ${(row.graceful!.medianMs / row[m]!.medianMs).toFixed(2)}`
    ).join(",");
    console.log(
      `${runtime} ${connections} idle: ${
        MODES.map((m) =>
          `${m} ${row[m]!.medianMs} ms (min ${row[m]!.minMs}) [${row[m]!.runs.join(" ")}] (exit ${row[m]!.exit.join("/")}, open ${
            row[m]!.openAtSignal
          }${row[m]!.drainMs !== undefined ? `, drain.end ${row[m]!.drainMs} ms` : ""})`
        ).join("; ")
      };${ratio}`,
    );
  }
}
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ runs: RUNS, results }, null, 2) + "\n");
