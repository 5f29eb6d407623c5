/**
 * Arrivals at close: new connections at a steady rate across the shutdown (as when a balancer has
 * not yet noticed the 503), on the runtime's bare server stopped its own way and on serveGracefully
 * (drainDelay 300 ms). Counts, per run, the clients that sent a whole request and got a reset or an
 * empty close (ambiguous), beside the answered and the refused ones.
 *
 *   node --import tsx bench/arrivals.ts [node|bun|deno ...] [--runs N] [--per-tick K] [--interval MS]
 */
import { parseArgs } from "node:util";
import { measureArrivals } from "../test/support/arrivals-load.ts";
import { RUNTIMES } from "../test/support/runtimes.ts";
import { integerFlag } from "./lib/flags.ts";

const { values, positionals } = parseArgs({
  strict: true,
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "8" },
    "per-tick": { type: "string", default: "5" },
    interval: { type: "string", default: "2" },
  },
});
const runs = integerFlag("runs", values.runs, 8, 1, 100);
const perTick = integerFlag("per-tick", values["per-tick"], 5, 1, 100);
const intervalMs = integerFlag("interval", values.interval, 2, 1, 1_000);
const unknown = positionals.filter((name) => !RUNTIMES.some((r) => r.name === name));
if (unknown.length > 0) throw new RangeError(`unknown runtime ${unknown.join(", ")} (known: ${RUNTIMES.map((r) => r.name).join(", ")})`);
const runtimes = RUNTIMES.filter((r) => positionals.length === 0 || positionals.includes(r.name));

for (const runtime of runtimes) {
  for (
    const [label, file, options] of [
      ["bare", "test/fixtures/arrivals.ts", { bare: true }],
      ["serveGracefully", "test/fixtures/arrivals.ts", { drainDelay: 300 }],
    ] as const
  ) {
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
      runtime: runtime.name,
      server: label,
      runs,
      ambiguousPerRun: ambiguous,
      medianAmbiguous: sorted[Math.floor(runs / 2)],
      totalAmbiguous: ambiguous.reduce((a, b) => a + b, 0),
      answered,
      refused: refusedCount,
      exitCodes: [...exitCodes],
    }));
  }
}
