/**
 * Arrivals at close: new connections at a steady rate across the shutdown (as when a balancer has
 * not yet noticed the 503), on the runtime's bare server stopped its own way and on serveGracefully
 * (drainDelay 300 ms). Counts, per run, the clients that sent a whole request and got a reset or an
 * empty close (ambiguous), beside the answered and the refused ones.
 *
 *   node --import tsx bench/arrivals.ts [node|bun|deno ...] [--runs N] [--per-tick K] [--interval MS]
 */
import { measureArrivals } from "../test/conformance/arrivals-load.ts";
import { RUNTIMES } from "../test/conformance/harness.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const runs = flag("--runs", 8);
const perTick = flag("--per-tick", 5);
const intervalMs = flag("--interval", 2);
const names = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const runtimes = RUNTIMES.filter((r) => names.length === 0 || names.includes(r.name));

for (const runtime of runtimes) {
  for (const [label, file, options] of [
    ["bare", "test/fixtures/arrivals.ts", { bare: true }],
    ["serveGracefully", "test/fixtures/arrivals.ts", { drainDelay: 300 }],
  ] as const) {
    const ambiguous: number[] = [];
    let answered = 0;
    let refusedCount = 0;
    const exitCodes = new Set<number | null>();
    for (let i = 0; i < runs; i++) {
      const counts = await measureArrivals(runtime, file, options, { perTick, intervalMs });
      ambiguous.push(counts.ambiguous);
      answered += counts.answered;
      refusedCount += counts.refused;
      exitCodes.add(counts.exitCode);
    }
    const sorted = [...ambiguous].sort((a, b) => a - b);
    console.log(JSON.stringify({
      runtime: runtime.name, server: label, runs, ambiguousPerRun: ambiguous, medianAmbiguous: sorted[Math.floor(runs / 2)],
      totalAmbiguous: ambiguous.reduce((a, b) => a + b, 0), answered, refused: refusedCount, exitCodes: [...exitCodes],
    }));
  }
}
