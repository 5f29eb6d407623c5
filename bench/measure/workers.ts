/**
 * `workers`: serveGracefully with `workers: 2` against the bare multi-process server of the same
 * app (node:cluster on Node, reusePort copies on Bun and Deno; bench/bare-workers.ts), measured the
 * way the one-process section is: A (bare), A' (bare again, the noise floor) and B (graceful) side
 * by side, loaded in turn. Also: the scaling from 1 to 2 workers for both, the RSS of the primary
 * and of each worker against bare, and the exit time after SIGTERM with idle connections spread
 * over the workers.
 */
import type { Runtime } from "../../test/support/runtimes.ts";
import { childPids, rssKiB, startServer, stopServer } from "../lib/processes.ts";
import { median, round1, round3 } from "../lib/stats.ts";
import { exitOnce } from "./shutdown.ts";
import { throughput } from "./throughput.ts";
import type { ThroughputResult } from "../results.ts";

export interface WorkersResult {
  workers: number;
  /** workers: 2, graceful against bare, with the A'/A floor. */
  throughput: ThroughputResult;
  /** The same at 1 worker (one process each), for the scaling; not in a smoke run. */
  single?: ThroughputResult;
  /** req/s at 2 workers over req/s at 1, bare and graceful (NaN without `single`). */
  scaling: { bare: number; graceful: number };
  /** KiB, median of the runs: the primary, and the median worker. */
  rss: { bare: { primary: number; worker: number }; graceful: { primary: number; worker: number } };
  /** ms from SIGTERM to the primary's exit with `idleConnections` idle connections over the workers. */
  exit: { idleConnections: number; bareMs: number; gracefulMs: number; bareExit: string[]; gracefulExit: string[] };
}

export interface WorkersSettings {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  idleConnections: number;
  runs: number;
  /** Measure the 1-worker baseline for the scaling (a smoke run, which states no figures, does not). */
  scaling: boolean;
  log: (line: string) => void;
}

const WORKERS = 2;

async function rss(rt: Runtime, mode: "bare" | "graceful"): Promise<{ primary: number; worker: number }> {
  const s = await startServer(rt, { app: "one-route", mode, env: { BENCH_WORKERS: String(WORKERS) } });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const workers = childPids(s.pid);
    return { primary: rssKiB(s.pid), worker: median(workers.map(rssKiB)) };
  } finally {
    await stopServer(s);
  }
}

export async function workersBench(rt: Runtime, s: WorkersSettings): Promise<WorkersResult> {
  const load = { rounds: s.rounds, durationS: s.durationS, warmupS: s.warmupS, connections: s.connections, pinned: false };
  const quiet = () => {};
  const tp = await throughput(rt, "one-route", { ...load, env: { BENCH_WORKERS: String(WORKERS) }, log: s.log });
  // The 1-worker servers run the throughput section's code again, for one figure.
  const single = s.scaling ? await throughput(rt, "one-route", { ...load, log: quiet }) : undefined;
  const scaling = single
    ? { bare: round3(tp.bareRps / single.bareRps), graceful: round3(tp.gracefulRps / single.gracefulRps) }
    : { bare: NaN, graceful: NaN };
  if (single) s.log(`  ${rt.name} workers ${WORKERS}: scaling from 1 worker: bare ${scaling.bare}x, graceful ${scaling.graceful}x`);

  const rssRuns = { bare: [] as { primary: number; worker: number }[], graceful: [] as { primary: number; worker: number }[] };
  const exitRuns = { bare: [] as { ms: number; exit: string }[], graceful: [] as { ms: number; exit: string }[] };
  for (let i = 0; i < s.runs; i++) {
    for (const mode of i % 2 === 0 ? ["bare", "graceful"] as const : ["graceful", "bare"] as const) {
      rssRuns[mode].push(await rss(rt, mode));
      const run = await exitOnce(rt, { mode, shutdown: "close", env: { BENCH_WORKERS: String(WORKERS) } }, s.idleConnections, "SIGTERM");
      exitRuns[mode].push({ ms: run.ms, exit: run.exit });
    }
  }
  const rssOf = (list: { primary: number; worker: number }[]) => ({
    primary: Math.round(median(list.map((r) => r.primary))),
    worker: Math.round(median(list.map((r) => r.worker))),
  });
  const result: WorkersResult = {
    workers: WORKERS,
    throughput: tp,
    ...(single && { single }),
    scaling,
    rss: { bare: rssOf(rssRuns.bare), graceful: rssOf(rssRuns.graceful) },
    exit: {
      idleConnections: s.idleConnections,
      bareMs: round1(median(exitRuns.bare.map((r) => r.ms))),
      gracefulMs: round1(median(exitRuns.graceful.map((r) => r.ms))),
      bareExit: [...new Set(exitRuns.bare.map((r) => r.exit))],
      gracefulExit: [...new Set(exitRuns.graceful.map((r) => r.exit))],
    },
  };
  const mib = (kib: number) => round1(kib / 1024);
  s.log(
    `  ${rt.name} workers ${WORKERS}: RSS primary ${mib(result.rss.graceful.primary)} MiB (bare ${
      mib(result.rss.bare.primary)
    }), per worker ${mib(result.rss.graceful.worker)} MiB (bare ${
      mib(result.rss.bare.worker)
    }); exit with ${s.idleConnections} idle connections ${result.exit.gracefulMs} ms (bare ${result.exit.bareMs} ms)`,
  );
  return result;
}
