/**
 * Where the time goes when a server with N idle keep-alive connections exits: the same bare
 * server ended six ways, and serveGracefully, alternated run by run (bench/server.ts's
 * BENCH_SHUTDOWN modes):
 *
 *   floor       SIGKILL: the kernel closes every socket as the process dies; nothing is faster
 *   exit-now    exit at SIGTERM: listener and connections left to the exit (loses whatever is in flight)
 *   close-now   the runtime's close (Node close(), Bun stop(), Deno shutdown()) started, exit in the same turn
 *   close-next  that close started, exit one event-loop turn later (a timer)
 *   close       that close awaited, then exit: the runtime's own graceful stop
 *   graceful    serveGracefully's drain and exit
 *
 * On Deno the gap between close-now and close-next is the cost of shutdown() itself: Deno closes
 * each idle connection in the turn after the call, and no API closes only the listener.
 *
 *   node --import tsx bench/exit-anatomy.ts [node|bun|deno ...] [--connections N] [--runs R]
 */
import { parseArgs } from "node:util";
import { RUNTIMES } from "../test/support/runtimes.ts";
import { integerFlag } from "./lib/flags.ts";
import { type BareShutdown, hardFileLimit, type ServerSpec } from "./lib/processes.ts";
import { max, median, min, round1 } from "./lib/stats.ts";
import { exitOnce } from "./measure/shutdown.ts";

const { values, positionals } = parseArgs({
  strict: true,
  allowPositionals: true,
  options: { connections: { type: "string", default: "10000" }, runs: { type: "string", default: "5" } },
});
const connections = integerFlag("connections", values.connections, 10_000, 1, 50_000);
const runs = integerFlag("runs", values.runs, 5, 1, 50);
const unknown = positionals.filter((name) => !RUNTIMES.some((r) => r.name === name));
if (unknown.length > 0) throw new RangeError(`unknown runtime ${unknown.join(", ")} (known: ${RUNTIMES.map((r) => r.name).join(", ")})`);
if (connections + 256 > hardFileLimit()) throw new RangeError(`open-file hard limit ${hardFileLimit()} is below ${connections + 256}`);

const bare = (shutdown: BareShutdown): Omit<ServerSpec, "app"> => ({ mode: "bare", shutdown });
const variants: [string, Omit<ServerSpec, "app">, "SIGTERM" | "SIGKILL"][] = [
  ["floor", bare("close"), "SIGKILL"],
  ["exit-now", bare("exit-now"), "SIGTERM"],
  ["close-now", bare("close-now"), "SIGTERM"],
  ["close-next", bare("close-next"), "SIGTERM"],
  ["close", bare("close"), "SIGTERM"],
  ["graceful", { mode: "graceful" }, "SIGTERM"],
];

for (const runtime of RUNTIMES.filter((r) => positionals.length === 0 || positionals.includes(r.name))) {
  const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let i = 0; i < runs; i++) {
    // Alternate the order from run to run, so drift on a shared machine falls on every variant.
    for (const [name, spec, signal] of i % 2 === 0 ? variants : [...variants].reverse()) {
      const run = await exitOnce(runtime, spec, connections, signal);
      if (!run.killed) times.get(name)!.push(run.ms);
    }
  }
  const floor = median(times.get("floor")!);
  console.log(`${runtime.name}, ${connections} idle connections, ${runs} runs: median ms (lowest-highest), ratio to the floor`);
  for (const [name, list] of times) {
    const m = median(list);
    console.log(`  ${name.padEnd(10)} ${round1(m)} (${round1(min(list))}-${round1(max(list))})  ${(m / floor).toFixed(2)}x`);
  }
}
