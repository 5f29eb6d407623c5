/**
 * The runner: serveGracefully against the bare runtime servers on Node, Bun and Deno. It measures
 * and writes bench/results.json; bench/report.ts turns that into docs/benchmarks.md.
 *
 *   npm run bench               full run (about 18 minutes on 2 cores): results.json and docs/benchmarks.md
 *   npm run test:bench-smoke    one short round of everything, the runtimes side by side; checks
 *                               that it all runs (no timing assertions), writes nothing
 *   node --import tsx bench/run.ts --help
 *
 * Measured for each runtime (bench/measure/*.ts):
 *   throughput   A (bare), A' (a second bare server) and B (serveGracefully) side by side, loaded
 *                in turn with wrk, order rotating each round; per round B/A and A'/A. A'/A is the
 *                noise floor: a difference is stated only when B/A lies outside it. For the
 *                one-route and the realistic app, free (scheduler's choice) and pinned (servers on
 *                CPU 1, wrk on CPU 0).
 *   exit         SIGTERM to process exit with 0 / 1,000 / 10,000 idle keep-alive connections, next
 *                to the floor (the same serveGracefully process SIGKILLed) and to a bare server
 *                with a minimal close handler; RSS with those connections.
 *   cold start   spawn() to the end of the first successful GET /.
 *   workers      serveGracefully with workers: 2 against bare node:cluster / reusePort copies of the
^ *                same app (A, A', B as above), the scaling from 1 to 2 (not in the smoke), RSS of the primary and per
 *                worker, and the exit after SIGTERM with idle connections over the workers.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Runtime, RUNTIMES } from "../test/support/runtimes.ts";
import { type AppName, hardFileLimit, now, ROOT } from "./lib/processes.ts";
import { wrkVersion } from "./lib/wrk.ts";
import { coldStart } from "./measure/cold-start.ts";
import { commandStart } from "./measure/command-start.ts";
import { shutdown } from "./measure/shutdown.ts";
import { throughput } from "./measure/throughput.ts";
import { workersBench } from "./measure/workers.ts";
import { problems, summarize, writeReport } from "./report.ts";
import { type BenchResults, type BenchSettings, type RuntimeResults, SHUTDOWN_VARIANTS } from "./results.ts";
import { integerFlag, listFlag } from "./lib/flags.ts";

const USAGE = `node --import tsx bench/run.ts [node|bun|deno ...] [options]
  --smoke                   one short round of everything, runtimes side by side, no timing claims, writes nothing
  --rounds N                throughput rounds per app and mode (default 5; smoke 1)
  --duration S              seconds per load run (default 2; smoke 1)
  --warmup S                seconds of warm-up load per server (default 1; smoke 0)
  --connections C           wrk connections (default 32)
  --idle-connections LIST   idle keep-alive levels for exit and RSS (default 0,1000,10000; smoke 200)
  --runs N                  exit/RSS runs per variant and level (default 5; smoke 1)
  --cold-runs N             cold starts per side, of the library and of the command (default 15; smoke 1): starts swing by tens of ms here
  --modes LIST              free,pinned (default both; smoke free)
  --apps LIST               one-route,realistic (default both; smoke realistic)
  --sections LIST           throughput,exit,cold,workers (default all)
  --out FILE                results file (default bench/results.json)
  --no-docs                 do not rewrite docs/benchmarks.md`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: {
    smoke: { type: "boolean", default: false },
    rounds: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    connections: { type: "string", default: "32" },
    "idle-connections": { type: "string" },
    runs: { type: "string" },
    "cold-runs": { type: "string" },
    modes: { type: "string" },
    apps: { type: "string" },
    sections: { type: "string" },
    out: { type: "string", default: path.join(ROOT, "bench", "results.json") },
    "no-docs": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const smoke = values.smoke;

const canPin = spawnSync("taskset", ["--version"], { timeout: 5_000 }).error === undefined && os.cpus().length >= 2;
const settings: BenchSettings = {
  rounds: integerFlag("rounds", values.rounds, smoke ? 1 : 5, 1, 100),
  durationS: integerFlag("duration", values.duration, smoke ? 1 : 2, 1, 600),
  warmupS: integerFlag("warmup", values.warmup, smoke ? 0 : 1, 0, 600),
  connections: integerFlag("connections", values.connections, 32, 1, 10_000),
  idleConnections: (values["idle-connections"] ?? (smoke ? "200" : "0,1000,10000")).split(",").map((s) =>
    integerFlag("idle-connections", s.trim(), 0, 0, 50_000)
  ),
  runs: integerFlag("runs", values.runs, smoke ? 1 : 5, 1, 100),
  coldRuns: integerFlag("cold-runs", values["cold-runs"], smoke ? 1 : 15, 1, 100),
  modes: listFlag("modes", values.modes ?? (smoke ? "free" : canPin ? "free,pinned" : "free"), ["free", "pinned"] as const),
  apps: listFlag(
    "apps",
    values.apps ?? (smoke ? "realistic" : "one-route,realistic"),
    ["one-route", "realistic"] as const satisfies readonly AppName[],
  ),
};
if (settings.modes.includes("pinned") && !canPin) throw new Error("pinned mode needs taskset and at least 2 CPUs");
const sections = listFlag(
  "sections",
  values.sections ?? "throughput,exit,cold,workers",
  ["throughput", "exit", "cold", "workers"] as const,
);
const chosen = listFlag("runtime", positionals.join(",") || "node,bun,deno", ["node", "bun", "deno"] as const);
const runtimes: Runtime[] = RUNTIMES.filter((r) => chosen.includes(r.name));

function versionOf(command: string): string {
  const r = spawnSync(command, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const first = (r.stdout || r.stderr || "").split("\n")[0]!.trim();
  return /(\d+\.\d+\.\d+)/.exec(first)?.[1] ?? first; // "v20.20.2", "1.4.5", "deno 2.9.6 (stable, ...)"
}
function packageVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}
const loadavg = () => os.loadavg().map((n) => Math.round(n * 100) / 100);
const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  const wrk = wrkVersion();
  if (!wrk) throw new Error("wrk is not installed (Debian: apt-get install -y wrk)");
  for (const file of ["node.js", "cli.js"]) {
    if (!existsSync(path.join(ROOT, "dist", file))) {
      throw new Error(`dist/${file} is missing: run \`npm run build\` first (Node's graceful side and the command run the build)`);
    }
  }
  const versions = Object.fromEntries(runtimes.map((r) => [r.name, versionOf(r.command)]));
  for (const r of runtimes) if (!versions[r.name]) throw new Error(`${r.name} not found at ${r.command}: run npm install`);
  const fileLimit = hardFileLimit();
  const begun = now();
  const loadavgStart = loadavg();
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  log(
    `serve-gracefully bench${smoke ? " (smoke: no timing claims)" : ""}: ${
      runtimes.map((r) => `${r.name} ${versions[r.name]}`).join(", ")
    }`,
  );
  log(
    `${wrk}, -t1 -c${settings.connections}, ${settings.durationS} s x ${settings.rounds} rounds per server, apps ${
      settings.apps.join(", ")
    }, modes ${settings.modes.join(", ")}`,
  );
  log(`machine: ${os.cpus().length} cpus, load average ${loadavgStart.join(" ")}, open-file limit ${fileLimit}`);

  const results: BenchResults["results"] = {};
  // The smoke claims no timing: its runtimes run side by side (most of its time is fixed-length
  // load runs and process starts, which overlap); a measuring run takes them one at a time.
  const measure = async (rt: Runtime): Promise<RuntimeResults> => {
    if (!smoke) log(`${rt.name}:`);
    const tp: RuntimeResults["throughput"] = [];
    for (const app of sections.includes("throughput") ? settings.apps : []) {
      for (const mode of settings.modes) tp.push(await throughput(rt, app, { ...settings, pinned: mode === "pinned", log }));
    }
    const sd: RuntimeResults["shutdown"] = [];
    for (const connections of sections.includes("exit") ? settings.idleConnections : []) {
      // The holder and the server each need one descriptor per connection, plus their own.
      if (connections + 256 > fileLimit) {
        sd.push({ connections, skipped: `open-file hard limit ${fileLimit} is below ${connections + 256}`, variants: {} });
        log(`  ${rt.name} exit with ${connections} idle connections: skipped (raise ulimit -Hn)`);
        continue;
      }
      // The smoke run leaves out the floor (a SIGKILL: nothing of ours to check) to stay fast.
      const variants = smoke ? SHUTDOWN_VARIANTS.filter((v) => v !== "floor") : SHUTDOWN_VARIANTS;
      sd.push(await shutdown(rt, connections, { runs: settings.runs, variants, log }));
    }
    const cs = sections.includes("cold")
      ? await coldStart(rt, { runs: settings.coldRuns, warm: !smoke, log })
      : { bareMs: NaN, gracefulMs: NaN, deltaMs: NaN, runs: { bare: [], graceful: [] } };
    const cmd = sections.includes("cold") ? await commandStart(rt, { runs: settings.coldRuns, warm: !smoke, log }) : undefined;
    const idle = Math.min(1_000, ...settings.idleConnections.filter((n) => n > 0));
    const wk = sections.includes("workers")
      ? await workersBench(rt, { ...settings, idleConnections: Number.isFinite(idle) ? idle : 200, scaling: !smoke, log })
      : undefined;
    return {
      version: versions[rt.name]!,
      throughput: tp,
      shutdown: sd,
      coldStart: cs,
      ...(cmd && { commandStart: cmd }),
      ...(wk && { workers: wk }),
    };
  };
  const measured: RuntimeResults[] = [];
  if (smoke) measured.push(...(await Promise.all(runtimes.map(measure))));
  else for (const rt of runtimes) measured.push(await measure(rt));
  runtimes.forEach((rt, i) => (results[rt.name] = measured[i]!));

  const report: BenchResults = {
    date: new Date().toISOString(),
    command: ["node --import tsx bench/run.ts", ...process.argv.slice(2)].join(" "),
    smoke,
    settings,
    machine: {
      nproc: os.availableParallelism?.() ?? os.cpus().length,
      cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
      memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      kernel: os.release(),
      loadavgStart,
      loadavgEnd: loadavg(),
      fileLimit,
    },
    loadGenerator: wrk,
    versions: {
      hono: packageVersion("hono"),
      "@hono/node-server": packageVersion("@hono/node-server"),
      tsx: packageVersion("tsx"),
      ...versions,
    },
    results,
    elapsedS: Math.round((now() - begun) / 1000),
  };
  log("");
  log(summarize(report).text);
  log(`\n${report.elapsedS} s, load average at the end ${report.machine.loadavgEnd.join(" ")}`);
  const bad = problems(report);
  if (smoke) {
    if (bad.length) {
      console.error(`bench smoke: ${bad.join("; ")}`);
      process.exitCode = 1;
    } else log("bench smoke: ok (every server started, answered, took load and exited on SIGTERM)");
    return;
  }
  if (bad.length) console.error(`problems seen in this run (also in the report): ${bad.join("; ")}`);
  const out = path.resolve(values.out);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  log(`wrote ${path.relative(ROOT, out)}`);
  if (!values["no-docs"]) log(`wrote ${path.relative(ROOT, writeReport(report))}`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exit(1);
});
