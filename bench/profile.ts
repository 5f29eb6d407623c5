/**
 * Where serveGracefully's cost comes from: the bench's measurements for any set of server
 * variants, rotated so drift hits all of them. For diagnosis, not part of `npm run bench`.
 *
 *   node --import tsx bench/profile.ts --runtime <node|bun|deno> --metric <tp|rss|cold>
 *        [--runs N] [--duration S] [--app one-route|realistic] [--pin] VARIANT...
 * --pin: the server on CPU 1 and wrk on CPU 0 (taskset).
 * VARIANT: bare | graceful | graceful+dist (the built dist/<rt>.js) | graceful+{"health":false}
 *          (JSON options) | graceful+dist+{"health":false}
 * Example: node --import tsx bench/profile.ts --runtime bun --metric tp --runs 8 bare graceful 'graceful+{"health":false}'
 */
import { parseArgs } from "node:util";
import { integerFlag } from "./lib/flags.ts";
import { RUNTIMES } from "../test/support/runtimes.ts";
import { type AppName, get, type Mode, now, rssKiB, type Server, sleep, startServer, stopServer } from "./lib/processes.ts";
import { median } from "./lib/stats.ts";
import { runLoad } from "./lib/wrk.ts";

const { values, positionals: variants } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: {
    runtime: { type: "string" },
    metric: { type: "string" },
    runs: { type: "string", default: "6" },
    duration: { type: "string", default: "2" },
    app: { type: "string", default: "one-route" },
    pin: { type: "boolean", default: false },
  },
});
const runtime = RUNTIMES.find((r) => r.name === values.runtime);
if (!runtime) throw new RangeError("--runtime must be node, bun or deno");
const metric = values.metric;
if (metric !== "tp" && metric !== "rss" && metric !== "cold") throw new RangeError("--metric must be tp, rss or cold");
const runs = integerFlag("runs", values.runs, 16, 1, 100);
const duration = integerFlag("duration", values.duration, 3, 1, 600);
if (values.app !== "one-route" && values.app !== "realistic") throw new RangeError("--app must be one-route or realistic");
const app: AppName = values.app;
if (variants.length === 0) throw new RangeError("name at least one VARIANT (bare, graceful, graceful+dist, graceful+{json options})");
const serverCpu = values.pin ? 1 : undefined;
const loadCpu = values.pin ? 0 : undefined;

/** "graceful+dist+{...}" -> mode graceful, BENCH_IMPORT=dist, BENCH_OPTIONS={...}. */
function start(variant: string): Promise<Server> {
  const [mode, ...mods] = variant.split("+");
  if (mode !== "bare" && mode !== "graceful") throw new RangeError(`${variant}: a variant starts with bare or graceful`);
  const env: Record<string, string> = { BENCH_IMPORT: "" };
  for (const m of mods) {
    if (m === "dist") env.BENCH_IMPORT = "dist";
    else env.BENCH_OPTIONS = m;
  }
  return startServer(runtime!, { app, mode: mode as Mode, cpu: serverCpu, env });
}

const samples = new Map<string, number[]>(variants.map((v) => [v, []]));
if (metric === "tp") {
  const servers: Server[] = [];
  try {
    for (const v of variants) servers.push(await start(v));
    for (const s of servers) await runLoad(s.port, app, { seconds: duration, connections: 32, cpu: loadCpu }); // warm-up
    for (let i = 0; i < runs; i++) {
      // Rotate the order each round.
      for (let j = 0; j < variants.length; j++) {
        const k = (i + j) % variants.length;
        samples.get(variants[k]!)!.push((await runLoad(servers[k]!.port, app, { seconds: duration, connections: 32, cpu: loadCpu })).rps);
      }
    }
  } finally {
    for (const s of servers) await stopServer(s);
  }
} else {
  for (let i = -1; i < runs; i++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(i + 1 + j) % variants.length]!;
      const s = await start(v);
      try {
        await get(s.port);
        const cold = now() - s.spawnedAt;
        await sleep(metric === "rss" ? 300 : 0);
        const rss = rssKiB(s.pid) / 1024;
        if (i >= 0) samples.get(v)!.push(metric === "rss" ? rss : cold); // run -1 is a discarded warm-up
      } finally {
        await stopServer(s);
      }
    }
  }
}
const base = median(samples.get(variants[0]!)!);
const unit = metric === "tp" ? "req/s" : metric === "rss" ? "MiB" : "ms";
for (const [v, xs] of samples) {
  const m = median(xs);
  const vs = metric === "cold" ? `${(m - base).toFixed(1)} ms` : `${(m / base).toFixed(3)}x`;
  console.log(
    `${runtime.name} ${metric} ${v.padEnd(34)} median ${m.toFixed(1)} ${unit}  vs ${variants[0]}: ${vs}  [${
      xs.map((x) => x.toFixed(1)).join(" ")
    }]`,
  );
}
