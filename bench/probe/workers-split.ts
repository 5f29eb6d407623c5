/**
 * Node `workers: 2` against bare node:cluster, side by side, with what the bench's workers section
 * does not show: the CPU each process spent and so the CPU per request, and how unevenly the two
 * workers were loaded (on a 2-core machine that also runs wrk, an uneven split reads faster).
 * OLD_ROOT=<a checkout with dist built> adds that build as a third server (an A/B of the library).
 *
 *   node --import tsx bench/probe/workers-split.ts [rounds]    (RT=bun|deno for the other runtimes)
 */
import { childPids, cpuNs, startServer, stopServer } from "../lib/processes.ts";
import { runLoad } from "../lib/wrk.ts";
import { RUNTIMES } from "../../test/support/runtimes.ts";

const rt = RUNTIMES.find((r) => r.name === (process.env.RT ?? "node"))!;
const rounds = Number(process.argv[2] ?? 4);
type Start = typeof startServer;
const sides: [string, Start, typeof stopServer, "bare" | "graceful"][] = [["bare", startServer, stopServer, "bare"], [
  "ours",
  startServer,
  stopServer,
  "graceful",
]];
if (process.env.OLD_ROOT) {
  const old = await import(`${process.env.OLD_ROOT}/bench/lib/processes.ts`) as { startServer: Start; stopServer: typeof stopServer };
  sides.push(["old", old.startServer, old.stopServer, "graceful"]);
}
for (let round = 0; round < rounds; round++) {
  for (const [name, start, stop, mode] of sides) {
    const s = await start(rt, { app: "one-route", mode, env: { BENCH_WORKERS: "2" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pids = [s.pid, ...childPids(s.pid)];
    await runLoad(s.port, "one-route", { seconds: 1, connections: 32 });
    const before = pids.map(cpuNs);
    const load = await runLoad(s.port, "one-route", { seconds: 4, connections: 32 });
    const ms = pids.map((pid, i) => Math.round((cpuNs(pid) - before[i]!) / 1e6));
    const total = ms.reduce((a, b) => a + b, 0);
    console.log(
      `${name.padEnd(5)} ${Math.round(load.rps)} req/s, ${
        (total * 1_000 / (load.rps * 4)).toFixed(1)
      } µs CPU/request, CPU ms primary/workers ${ms.join("/")}`,
    );
    await stop(s);
  }
}
