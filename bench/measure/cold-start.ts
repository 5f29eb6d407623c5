/**
 * Cold start: from spawn() to the end of the first successful GET / (one-route app), alternated.
 * Both sides import what npm users get (dist/, BENCH_IMPORT in bench/lib/processes.ts). On Node the
 * two sides are plain JavaScript entries run by `node` (bench/apps/node-bare-entry.mjs and
 * serve-gracefully-entry.mjs), as every section's Node server now is (bench/lib/processes.ts): tsx's
 * own loading of dist/ added tens of ms that a `node` in production never spends.
 */
import path from "node:path";
import type { Runtime } from "../../test/support/runtimes.ts";
import { freePort } from "../../test/support/ports.ts";
import { cpuNs, get, type Mode, now, ROOT, spawnToFirstAnswer, startServer, stopServer } from "../lib/processes.ts";
import { median, round1 } from "../lib/stats.ts";
import type { ColdStartResult } from "../results.ts";

const NODE_ENTRIES: Record<Mode, string> = {
  bare: path.join(ROOT, "bench", "apps", "node-bare-entry.mjs"),
  graceful: path.join(ROOT, "bench", "apps", "serve-gracefully-entry.mjs"),
};

export async function coldStart(rt: Runtime, s: { runs: number; warm: boolean; log: (line: string) => void }): Promise<ColdStartResult> {
  const times: Record<Mode, number[]> = { bare: [], graceful: [] };
  const cpu: Record<Mode, number[]> = { bare: [], graceful: [] };
  const once = async (mode: Mode) => {
    if (rt.name === "node") return await spawnToFirstAnswer([rt.command, NODE_ENTRIES[mode]], await freePort(), {}, `node ${mode}`);
    const server = await startServer(rt, { app: "one-route", mode });
    try {
      const status = await get(server.port);
      if (status !== 200) throw new Error(`${rt.name} ${mode}: first GET / answered ${status}`);
      return { ms: now() - server.spawnedAt, cpuMs: cpuNs(server.pid) / 1e6 };
    } finally {
      await stopServer(server);
    }
  };
  if (s.warm) {
    await once("bare"); // warm the file cache and the transform caches; not counted
    await once("graceful");
  }
  for (let i = 0; i < s.runs; i++) {
    for (const mode of (i % 2 === 0 ? ["bare", "graceful"] : ["graceful", "bare"]) as Mode[]) {
      const { ms, cpuMs } = await once(mode);
      times[mode].push(ms);
      cpu[mode].push(cpuMs);
    }
  }
  const bare = median(times.bare);
  const graceful = median(times.graceful);
  s.log(`  ${rt.name} cold start: bare ${round1(bare)} ms, graceful ${round1(graceful)} ms`);
  return {
    bareMs: round1(bare),
    gracefulMs: round1(graceful),
    deltaMs: round1(graceful - bare),
    bareCpuMs: round1(median(cpu.bare)),
    gracefulCpuMs: round1(median(cpu.graceful)),
    cpuDeltaMs: round1(median(cpu.graceful) - median(cpu.bare)),
    runs: { bare: times.bare.map(round1), graceful: times.graceful.map(round1) },
  };
}
