/**
 * Throughput of serveGracefully (B) against the bare server (A), with the bare server also
 * measured against a second copy of itself (A'): A/A is the noise of this machine at this moment,
 * measured the same way as the claim. All three run side by side and are loaded in turn, the
 * order rotating each round so that drift hits all three.
 */
import type { Runtime } from "../../test/support/runtimes.ts";
import { type AppName, type Server, startServer, stopServer } from "../lib/processes.ts";
import { max, median, min, round3 } from "../lib/stats.ts";
import { runLoad } from "../lib/wrk.ts";
import type { ThroughputResult, ThroughputRound } from "../results.ts";

export interface ThroughputSettings {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  /** Servers on CPU 1 and wrk on CPU 0 (taskset); otherwise the scheduler places them. */
  pinned: boolean;
  /** More environment for every server (BENCH_WORKERS). */
  env?: Record<string, string>;
  log: (line: string) => void;
}

export async function throughput(rt: Runtime, app: AppName, s: ThroughputSettings): Promise<ThroughputResult> {
  const serverCpu = s.pinned ? 1 : undefined;
  const load = { connections: s.connections, cpu: s.pinned ? 0 : undefined };
  const servers: Server[] = [];
  try {
    const starting = (["bare", "bare", "graceful"] as const).map((mode) => startServer(rt, { app, mode, cpu: serverCpu, env: s.env }));
    const outcomes = await Promise.allSettled(starting);
    for (const o of outcomes) if (o.status === "fulfilled") servers.push(o.value);
    for (const o of outcomes) if (o.status === "rejected") throw o.reason;
    if (s.warmupS > 0) { for (const server of servers) await runLoad(server.port, app, { ...load, seconds: s.warmupS }); }
    const rounds: ThroughputRound[] = [];
    let errors = 0;
    for (let i = 0; i < s.rounds; i++) {
      const rps = [0, 0, 0];
      for (let j = 0; j < 3; j++) {
        const k = (i + j) % 3;
        const result = await runLoad(servers[k]!.port, app, { ...load, seconds: s.durationS });
        if (result.requests === 0) throw new Error(`${rt.name} ${app}: a load run got no responses`);
        errors += result.errors;
        rps[k] = result.rps;
      }
      const [bare, bareAgain, graceful] = rps as [number, number, number];
      rounds.push({
        bare: Math.round(bare),
        bareAgain: Math.round(bareAgain),
        graceful: Math.round(graceful),
        aa: round3(bareAgain / bare),
        ba: round3(graceful / bare),
      });
      s.log(
        `  ${rt.name} ${app} ${s.pinned ? "pinned" : "free"}${s.env?.BENCH_WORKERS ? ` workers ${s.env.BENCH_WORKERS}` : ""} round ${
          i + 1
        }/${s.rounds}: A ${Math.round(bare)}, A' ${Math.round(bareAgain)}, B ${Math.round(graceful)} req/s; A'/A ${
          round3(bareAgain / bare)
        }, B/A ${round3(graceful / bare)}`,
      );
    }
    const aa = rounds.map((r) => r.aa);
    const ba = rounds.map((r) => r.ba);
    return {
      app,
      pinned: s.pinned,
      bareRps: Math.round(median(rounds.map((r) => r.bare))),
      gracefulRps: Math.round(median(rounds.map((r) => r.graceful))),
      ba: round3(median(ba)),
      baMin: min(ba),
      baMax: max(ba),
      aa: round3(median(aa)),
      aaMin: min(aa),
      aaMax: max(aa),
      errors,
      rounds,
    };
  } finally {
    for (const server of servers) await stopServer(server);
  }
}
