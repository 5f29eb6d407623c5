/**
 * CPU per request and req/s of a server, bare against serveGracefully (and any variant), pinned:
 * every server process on CPU 1 and wrk on CPU 0, so a side's throughput is what its own work per
 * request allows, and neither wrk's share of the cores nor how evenly workers are loaded enters it
 * (the bench's free runs mix both in). Variants as bench/profile.ts (bare, graceful,
 * graceful+{json options}; a `#2` suffix names a second copy, for an A/A pair), rotated each round.
 * WORKERS=2: the servers run 2 workers (node:cluster or reusePort copies for bare), both on CPU 1.
 *
 *   node --import tsx bench/probe/cpu-per-request.ts [rounds] VARIANT...   (RT=bun|deno for the others)
 */
import { childPids, cpuNs, startServer, stopServer } from "../lib/processes.ts";
import { runLoad } from "../lib/wrk.ts";
import { median } from "../lib/stats.ts";
import { RUNTIMES } from "../../test/support/runtimes.ts";

const rt = RUNTIMES.find((r) => r.name === (process.env.RT ?? "node"))!;
const rounds = Number(process.argv[2] ?? 6);
const workers = process.env.WORKERS;
const variants = process.argv.slice(3);
if (variants.length === 0) variants.push("bare", "graceful");
const results = new Map(variants.map((v) => [v, { us: [] as number[], rps: [] as number[] }]));
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!);
  for (const variant of order) {
    // "bare#2": a second copy of a variant under its own name (an A/A pair).
    const [mode, options] = variant.replace(/#\d+$/, "").split("+", 2) as ["bare" | "graceful", string | undefined];
    const env: Record<string, string> = { ...(options && { BENCH_OPTIONS: options }), ...(workers && { BENCH_WORKERS: workers }) };
    const s = await startServer(rt, { app: "one-route", mode, cpu: 1, env });
    const pids = [s.pid, ...childPids(s.pid)];
    await runLoad(s.port, "one-route", { seconds: 1, connections: 32, cpu: 0 });
    const before = pids.map(cpuNs);
    const load = await runLoad(s.port, "one-route", { seconds: 3, connections: 32, cpu: 0 });
    const ns = pids.reduce((sum, pid, i) => sum + cpuNs(pid) - before[i]!, 0);
    const us = ns / 1e3 / (load.rps * 3);
    results.get(variant)!.us.push(us);
    results.get(variant)!.rps.push(load.rps);
    console.log(`round ${round} ${variant.padEnd(28)} ${Math.round(load.rps)} req/s ${us.toFixed(2)} µs CPU/request`);
    await stopServer(s);
  }
}
const base = results.get(variants[0]!)!;
for (const [variant, { us, rps }] of results) {
  // Per-round ratios against the first variant: the rounds' drift cancels within a round.
  const ratios = rps.map((r, i) => r / base.rps[i]!);
  console.log(
    `${variant.padEnd(28)} ${Math.round(median(rps))} req/s, ${median(ratios).toFixed(3)}x of ${variants[0]} (rounds ${
      Math.min(...ratios).toFixed(3)
    }-${Math.max(...ratios).toFixed(3)}), CPU/request ${median(us).toFixed(2)} µs`,
  );
}
