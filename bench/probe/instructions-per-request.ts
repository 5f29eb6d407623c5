/**
 * Instructions per request of a Node server, bare against serveGracefully: a count, not a time, so
 * a difference of 1 % shows on a shared 2-core VM where req/s and CPU time per request swing by
 * ±20 % (bench/probe/cpu-per-request.ts). Counted by valgrind's callgrind (this VM has no hardware
 * counters for `perf stat -e instructions`): every server process runs under it, instrumentation
 * off while the server starts and takes WARMUP requests; then, with it on, segments: the counters
 * zeroed, exactly N GETs sent over C keep-alive connections by this process (not under valgrind),
 * and the instructions every thread of every server process executed read (callgrind_control -e)
 * and divided by N. User-space instructions only: the kernel's share (syscalls, and clock reads,
 * which valgrind makes syscalls) is not counted; JIT, GC and libuv's threads are.
 *
 * Once instrumentation is on, the first segments count 2-5x more (V8 readjusts to the slowdown),
 * whatever the warm-up: segments go on until the last 3 agree within SPREAD (at most MAX_SEGMENTS),
 * and their median is the variant's result for the round. Steady, repeated starts of the same
 * server agree within ~0.6 % (2026-12-08, Node 20.20: bare 62,029 / 61,663 / 61,989, graceful
 * 63,002 / 63,228 / 62,987 Ir a request). Each round starts every variant afresh, rotated; the
 * summary gives each variant's median over rounds and its ratio to the first variant.
 *
 * Variants as bench/probe/cpu-per-request.ts: bare, graceful, graceful+{json options}, a `#2`
 * suffix for a second copy (an A/A pair), and `<variant>@<dir>`: the server of another checkout
 * (its dist/ built, its bench/lib/processes.ts with `under`), for A/B of a scratch build.
 * WORKERS=2: the servers run 2 workers (node:cluster for bare); every process is counted
 * (valgrind --trace-children), the primary's hand-offs included; each process's share of the last
 * segment is printed (primary first): both workers served if both counted ~half. Use C=4 or more
 * (node:cluster and the hand-off give each worker half the connections; reusePort on Bun and Deno
 * spreads them by hash, C=8). 2026-12-08, Node 20.20, C=4: docs/workers.md#measurements.
 *
 *   node --import tsx bench/probe/instructions-per-request.ts [rounds] VARIANT...
 *   env: N=2000 requests a segment, C=2 connections, WARMUP=10000 requests, SPREAD=0.02, MAX_SEGMENTS=16,
 *   RT=node (bun, deno: test/support/runtimes.ts), KEEPALIVE=0 (a new connection for every request)
 *
 * Under valgrind a request takes 1-5 ms: a variant takes 2-4 minutes.
 */
import http from "node:http";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { childPids, type startServer as StartServer, type stopServer as StopServer } from "../lib/processes.ts";
import * as here from "../lib/processes.ts";
import { median } from "../lib/stats.ts";
import { RUNTIMES } from "../../test/support/runtimes.ts";

const rt = RUNTIMES.find((r) => r.name === (process.env.RT ?? "node"))!;
const rounds = Number(process.argv[2] ?? 3);
const variants = process.argv.slice(3);
if (variants.length === 0) variants.push("bare", "graceful");
const N = Number(process.env.N ?? 2_000);
const STEADY = 3;
const SPREAD = Number(process.env.SPREAD ?? 0.02);
const MAX_SEGMENTS = Number(process.env.MAX_SEGMENTS ?? 16);
const C = Number(process.env.C ?? 2);
const WARMUP = Number(process.env.WARMUP ?? 10_000);
/** KEEPALIVE=0: every request on a new connection (Connection: close), the per-connection path's cost. */
const KEEPALIVE = process.env.KEEPALIVE !== "0";
const workers = process.env.WORKERS;
const outDir = mkdtempSync(path.join(tmpdir(), "instructions-"));
process.on("exit", () => rmSync(outDir, { recursive: true, force: true }));
const VALGRIND = [
  "valgrind",
  "--tool=callgrind",
  "--smc-check=all", // V8 writes and patches its code
  "--instr-atstart=no",
  "--trace-children=yes", // workers
  `--callgrind-out-file=${outDir}/callgrind.%p`,
  "--log-file=/dev/null",
];

/** `count` GETs / over `connections` keep-alive connections (a fresh pool), one at a time on each. */
async function send(port: number, count: number, connections: number): Promise<void> {
  // Without keep-alive, an Agent with a finite maxSockets still reuses a socket it frees for a
  // queued request: maxSockets Infinity sends Connection: close (this loop bounds the concurrency).
  const agent = new http.Agent({ keepAlive: KEEPALIVE, maxSockets: KEEPALIVE ? connections : Infinity });
  let sent = 0;
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${count - done} of ${count} requests unanswered after 10 min`)), 600_000);
      const next = () => {
        if (sent === count) return;
        sent++;
        http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode !== 200) return reject(new Error(`GET / answered ${res.statusCode}`));
            if (++done < count) return next();
            clearTimeout(timer);
            resolve();
          });
        }).on("error", reject);
      };
      for (let i = 0; i < connections; i++) next();
    });
  } finally {
    agent.destroy();
  }
}

/** callgrind_control on one process: its output (throws when it fails). */
function control(pid: number, ...args: string[]): string {
  const r = spawnSync("callgrind_control", [...args, String(pid)], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(" ")} ${pid}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Instructions executed by every thread of a process since its counters were zeroed. */
function instructions(pid: number): number {
  // "  Totals: Ir\n   Th 1  2,770\n   Th 2    692"
  return [...control(pid, "-e", "Ir").matchAll(/^\s*Th\s+\d+\s+([\d,]+)/gm)].reduce((sum, m) => sum + Number(m[1]!.replaceAll(",", "")), 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(variant: string): Promise<number[]> {
  const [name, dir] = variant.split("@", 2) as [string, string | undefined];
  const [mode, options] = name.replace(/#\d+$/, "").split("+", 2) as ["bare" | "graceful", string | undefined];
  const lib = (dir === undefined ? here : await import(path.resolve(dir, "bench/lib/processes.ts"))) as {
    startServer: typeof StartServer;
    stopServer: typeof StopServer;
  };
  const env: Record<string, string> = { ...(options && { BENCH_OPTIONS: options }), ...(workers && { BENCH_WORKERS: workers }) };
  const s = await lib.startServer(rt, { app: "one-route", mode, env, under: VALGRIND }, 180_000);
  try {
    const pids = [s.pid, ...childPids(s.pid)];
    if (workers !== undefined && pids.length !== Number(workers) + 1) {
      throw new Error(`${variant}: ${pids.length} processes (${pids.join(" ")}), expected a primary and ${workers} workers`);
    }
    await send(s.port, WARMUP, C);
    for (const pid of pids) control(pid, "-i", "on");
    // V8 is still tiering up and growing its heap for thousands of requests (the first segments
    // count 2-5x): segments until the last STEADY agree within SPREAD, as the result their median.
    const perRequest: number[] = [];
    let split = "";
    const last = () => perRequest.slice(-STEADY);
    const steady = () => perRequest.length >= STEADY && Math.max(...last()) / Math.min(...last()) - 1 <= SPREAD;
    while (!steady() && perRequest.length < MAX_SEGMENTS) {
      for (const pid of pids) control(pid, "-z");
      await send(s.port, N, C);
      await sleep(300); // the pool's closes, counted in every segment alike
      const each = pids.map(instructions);
      const total = each.reduce((sum, ir) => sum + ir, 0);
      perRequest.push(total / N);
      split = each.map((ir) => `${Math.round(ir / N)}`).join(" + ");
    }
    if (pids.length > 1) console.log(`${variant}: processes ${pids.join(" ")}, last segment Ir/request primary + workers: ${split}`);
    if (!steady()) console.log(`${variant}: not steady after ${MAX_SEGMENTS} segments, the last ${STEADY} kept`);
    return perRequest;
  } finally {
    await lib.stopServer(s);
  }
}

const results = new Map(variants.map((v) => [v, [] as number[]]));
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
  for (const variant of order) {
    const segments = await measure(variant);
    results.get(variant)!.push(median(segments.slice(-STEADY)));
    console.log(`round ${round} ${variant.padEnd(28)} Ir/request ${segments.map((ir) => Math.round(ir)).join(" ")}`);
  }
}
const base = results.get(variants[0]!)!;
for (const [variant, irs] of results) {
  const ratios = irs.map((ir, i) => ir / base[i]!);
  console.log(
    `${variant.padEnd(28)} ${Math.round(median(irs))} Ir/request (rounds ${Math.round(Math.min(...irs))}-${
      Math.round(Math.max(...irs))
    }), ${median(ratios).toFixed(4)}x of ${variants[0]}`,
  );
}
