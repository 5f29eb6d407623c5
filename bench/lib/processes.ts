/**
 * Starting and ending the processes the bench measures. Every child is recorded and SIGKILLed by
 * PID when the bench ends (normally, on an error, or on Ctrl+C); every wait has a deadline.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import http from "node:http";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Runtime } from "../../test/support/runtimes.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SERVER = path.join(ROOT, "bench", "server.ts");
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const now = (): number => performance.now();

const started = new Set<ChildProcess>();
function killAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}
/** Records a child so that it is killed when the bench ends. */
export function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once("exit", () => started.delete(child));
  return child;
}

/** The hard limit on open files: how many idle connections one process can hold. */
export function hardFileLimit(): number {
  const r = spawnSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8", timeout: 5_000 });
  const text = r.stdout.trim();
  return text === "unlimited" ? Infinity : Number(text) || 1024;
}

/**
 * The command line for `command args`, with the soft limit on open files raised to the hard limit
 * (10,000 idle connections need more than the usual 1,024) and, if `cpu` is given, pinned to that
 * CPU. bash and taskset both exec, so the PID stays the program's own.
 */
export function commandLine(command: string, args: string[], cpu?: number): [string, string[]] {
  const raised = ["bash", "-c", 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', command, ...args];
  return cpu === undefined ? [raised[0]!, raised.slice(1)] : ["taskset", ["-c", String(cpu), ...raised]];
}

/**
 * bench/server.ts for Node as one plain JavaScript file (.build/bench-server.mjs, the apps bundled
 * in; hono, @hono/node-server and dist/ imported as they are), run by `node` without tsx, as in
 * production: under tsx both sides load tsx's hooks and esbuild, and a Node primary's RSS moved by
 * a few MiB from start to start (docs/workers.md#measurements). Built once per bench process by
 * the Bun of devDependencies; Bun and Deno run the TypeScript file themselves.
 */
const NODE_SERVER = path.join(ROOT, ".build", "bench-server.mjs");
let nodeServerBuilt = false;
function serverArgs(rt: Runtime, importsDist: boolean): string[] {
  // From the TypeScript sources (BENCH_IMPORT not "dist", bench/profile.ts), Node needs tsx.
  if (rt.name !== "node" || !importsDist) return rt.args(SERVER);
  if (!nodeServerBuilt) {
    const bun = path.join(ROOT, "node_modules", ".bin", "bun");
    const args = [
      "build",
      SERVER,
      "--target=node",
      "--format=esm",
      "--packages=external",
      "--external=../dist/*",
      "--external=../adapters/*",
    ];
    const r = spawnSync(bun, [...args, `--outfile=${NODE_SERVER}`], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    if (r.status !== 0) throw new Error(`bun ${args.join(" ")} failed:\n${r.stderr || r.error?.message}`);
    nodeServerBuilt = true;
  }
  return [NODE_SERVER];
}

export type Mode = "bare" | "graceful";
/** What a bare server does on SIGTERM (see bench/server.ts). */
export type BareShutdown = "default" | "close" | "exit-now" | "close-now" | "close-next";
export type AppName = "one-route" | "realistic";

export interface ServerSpec {
  app: AppName;
  mode: Mode;
  /** What a bare server does on SIGTERM (bench/server.ts). */
  shutdown?: BareShutdown;
  /** Pin the server to this CPU. */
  cpu?: number;
  /** More environment for bench/server.ts (BENCH_OPTIONS, BENCH_IMPORT: see there). */
  env?: Record<string, string>;
  /** A command line to run the server under, e.g. valgrind and its options (it execs: the PID stays). */
  under?: string[];
}

export interface Exited {
  code: number | null;
  signal: string | null;
  at: number;
}

export interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  spawnedAt: number;
  exited: Promise<Exited>;
  output: string[];
}

/** Spawns bench/server.ts on `rt` and resolves once it prints its port. */
export async function startServer(rt: Runtime, spec: ServerSpec, ms = 20_000): Promise<Server> {
  const spawnedAt = now();
  const runtimeArgs = serverArgs(rt, (spec.env?.BENCH_IMPORT ?? "dist") === "dist");
  const [under, ...underArgs] = spec.under ?? [];
  const [command, args] = under === undefined
    ? commandLine(rt.command, runtimeArgs, spec.cpu)
    : commandLine(under, [...underArgs, rt.command, ...runtimeArgs], spec.cpu);
  const child = track(spawn(command, args, {
    cwd: ROOT,
    // The graceful side imports the built dist/<runtime>.js, what npm installs (on Bun with the
    // `// @bun` that lets it skip its transpiler). JSR's TypeScript sources on Deno: docs/benchmarks.md.
    env: {
      ...process.env,
      BENCH_APP: spec.app,
      BENCH_MODE: spec.mode,
      BENCH_SHUTDOWN: spec.shutdown ?? "close",
      BENCH_IMPORT: "dist",
      NO_COLOR: "1",
      PORT: "",
      ...spec.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  }));
  const label = `${rt.name} ${spec.mode} ${spec.app}`;
  const output: string[] = [];
  const exited = new Promise<Exited>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, at: now() })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no listening line within ${ms} ms`), ms);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${label}: ${why}\n${output.join("")}`));
    };
    let buffer = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output.push(chunk);
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const port = /"bench":"listening".*"port":(\d+)/.exec(line)?.[1];
        if (port) {
          clearTimeout(timer);
          resolve(Number(port));
        }
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
    void exited.then((e) => fail(`exited (${e.code ?? e.signal}) before listening`));
  });
  return { child, pid: child.pid!, port, spawnedAt, exited, output };
}

/** The pids of a process's children (Linux /proc): a multi-process server's workers. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  // Its workers go too, by PID: a bare multi-process server's copies never notice their primary's
  // death and would keep the port (and the bench's stderr pipe, so the bench would never end).
  const workers = childPids(s.pid);
  s.child.kill("SIGKILL");
  await Promise.race([s.exited, sleep(5_000)]);
  for (const pid of workers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already (a graceful worker drains itself when its primary dies).
    }
  }
}

/** Waits for the exit within `ms`; undefined if the process is still running then. */
export async function exitWithin(s: Server, ms: number): Promise<Exited | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const exit = await Promise.race([s.exited, late]);
  clearTimeout(timer);
  return exit;
}

/** One GET on a fresh connection; resolves with the status once the body has arrived. */
export function get(port: number, urlPath = "/", ms = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: ms }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Resident memory of a process, from /proc/<pid>/status. */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)![1]);
}

/** ns on CPU of every live thread of a process. */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return total;
}

/**
 * Spawns `command` with PORT=`port` (and HOST=127.0.0.1) and polls GET / every ms until it answers
 * 200: the wall time from spawn() and the CPU time the process used until then.
 */
export async function spawnToFirstAnswer(
  [command, ...args]: string[],
  port: number,
  env: Record<string, string>,
  label: string,
): Promise<{ ms: number; cpuMs: number }> {
  const spawnedAt = now();
  const child = track(
    spawn(command!, args, {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", NO_COLOR: "1", ...env },
      stdio: "ignore",
    }),
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    const deadline = spawnedAt + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label}: exited before answering`);
      if (now() > deadline) throw new Error(`${label}: no answer within 20 s`);
      const status = await get(port, "/", 2_000).catch(() => 0);
      if (status === 200) break;
      if (status !== 0) throw new Error(`${label}: first GET / answered ${status}`);
      await sleep(1);
    }
    const ms = now() - spawnedAt;
    return { ms, cpuMs: cpuNs(child.pid!) / 1e6 };
  } finally {
    child.kill("SIGKILL");
    await Promise.race([exited, sleep(5_000)]);
  }
}
