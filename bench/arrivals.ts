/**
 * Arrivals at close: new connections at a steady rate across the shutdown (as when a balancer has
 * not yet noticed the 503), on the runtime's bare server stopped its own way after the drain delay
 * and on serveGracefully with the same drainDelay, interleaved run by run (the order alternating)
 * so both see the same load. Counts, per run, the clients that sent a whole request and got a reset
 * or an empty close (ambiguous), beside the answered and the refused ones; notes the load average.
 *
 *   node --import tsx bench/arrivals.ts [node|bun|deno ...] [--runs N] [--rate PER_S] [--delay MS] [--keep-alive] [--verbose]
 *
 * --keep-alive: clients that do not ask to close (a browser, a pool); by default each sends `Connection: close`.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { type ArrivalCounts, measureArrivals } from "../test/support/arrivals-load.ts";
import { RUNTIMES } from "../test/support/runtimes.ts";
import { integerFlag } from "./lib/flags.ts";

const { values, positionals } = parseArgs({
  strict: true,
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "10" },
    rate: { type: "string", default: "1000" },
    delay: { type: "string", default: "500" },
    verbose: { type: "boolean", default: false },
    "keep-alive": { type: "boolean", default: false },
  },
});
const runs = integerFlag("runs", values.runs, 10, 1, 100);
const rate = integerFlag("rate", values.rate, 1_000, 1, 20_000);
const drainDelay = integerFlag("delay", values.delay, 500, 0, 60_000);
const unknown = positionals.filter((name) => !RUNTIMES.some((r) => r.name === name));
if (unknown.length > 0) throw new RangeError(`unknown runtime ${unknown.join(", ")} (known: ${RUNTIMES.map((r) => r.name).join(", ")})`);
const runtimes = RUNTIMES.filter((r) => positionals.length === 0 || positionals.includes(r.name));

const sides = { bare: { bare: true, drainDelay }, ours: { drainDelay } } as const;
const total = (values: number[]) => values.reduce((a, b) => a + b, 0);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

for (const runtime of runtimes) {
  const perRun = { bare: [] as ArrivalCounts[], ours: [] as ArrivalCounts[] };
  const load: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate which side goes first, so neither always runs on the warmer (or busier) machine.
    const order = i % 2 === 0 ? (["bare", "ours"] as const) : (["ours", "bare"] as const);
    for (const side of order) {
      const counts = await measureArrivals(runtime, "test/fixtures/arrivals.ts", sides[side], { rate, keepAlive: values["keep-alive"] });
      perRun[side].push(counts);
      if (values.verbose) {
        const { ambiguities, ...rest } = counts;
        const when = ambiguities.map((a) => `${a.how[0]}${a.connectedAt}>${a.endedAt}`).join(" ");
        console.log(JSON.stringify({ runtime: runtime.name, run: i + 1, side, ...rest, ambiguities: when }));
      }
    }
    load.push(os.loadavg()[0]!);
  }
  const summary = (side: "bare" | "ours") => {
    const ambiguous = perRun[side].map((c) => c.ambiguous);
    return {
      ambiguousPerRun: ambiguous,
      median: median(ambiguous),
      total: total(ambiguous),
      answered: total(perRun[side].map((c) => c.answered)),
      refused: total(perRun[side].map((c) => c.refused)),
      exitCodes: [...new Set(perRun[side].map((c) => c.exitCode))],
    };
  };
  console.log(JSON.stringify({
    runtime: runtime.name,
    runs,
    rate,
    drainDelay,
    loadAverage1m: { min: Math.min(...load), max: Math.max(...load) },
    bare: summary("bare"),
    ours: summary("ours"),
  }));
}
