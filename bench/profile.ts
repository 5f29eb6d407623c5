/**
 * Where serveGracefully's cost comes from: the same measurements as bench/run.ts, for any set of
 * server variants, rotated so drift hits all of them. For diagnosis, not part of `npm run bench`.
 *
 *   node --import tsx bench/profile.ts <node|bun|deno> <tp|rss|cold> [--runs N] [--duration S] [--pin] VARIANT...
 * --pin: the server on CPU 1 and wrk on CPU 0 (taskset), which steadies Bun's numbers.
 * VARIANT: bare | graceful | graceful+dist (the built dist/<rt>.js) | graceful+{"health":false}
 *          (JSON options) | graceful+dist+{"health":false}
 * Example: node --import tsx bench/profile.ts bun tp --runs 8 bare graceful 'graceful+{"health":false}'
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SERVER = path.join(ROOT, "bench", "server.ts");
const NODE = process.env.BENCH_NODE ?? "/usr/bin/node";
const [rtName, metric, ...rest] = process.argv.slice(2);
const opt = (name: string, d: number) => (rest.includes(name) ? Number(rest[rest.indexOf(name) + 1]) : d);
const RUNS = opt("--runs", 6);
const DURATION = opt("--duration", 2);
const variants = rest.filter((a, i) => !a.startsWith("--") && !["--runs", "--duration"].includes(rest[i - 1] ?? ""));
const cmd: Record<string, [string, string[]]> = {
  node: [NODE, ["--import", "tsx", SERVER]],
  bun: [path.join(ROOT, "node_modules/.bin/bun"), [SERVER]],
  deno: [path.join(ROOT, "node_modules/.bin/deno"), ["run", "-A", "--quiet", SERVER]],
};
const PIN = rest.includes("--pin"); // server on CPU 1, wrk on CPU 0 (taskset)
const [command0, args0] = cmd[rtName!]!;
const [command, args] = PIN ? ["taskset", ["-c", "1", command0, ...args0]] : [command0, args0];
const started = new Set<ChildProcess>();
process.on("exit", () => started.forEach((c) => c.kill("SIGKILL")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function envFor(variant: string): Record<string, string> {
  const [mode, ...mods] = variant.split("+");
  const env: Record<string, string> = { BENCH_MODE: mode! };
  for (const m of mods) {
    if (m === "dist") env.BENCH_IMPORT = "dist";
    else env.BENCH_OPTIONS = m;
  }
  return env;
}
async function start(variant: string): Promise<{ child: ChildProcess; port: number; t0: number }> {
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...envFor(variant) }, stdio: ["ignore", "pipe", "inherit"] });
  started.add(child);
  child.once("exit", () => started.delete(child));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${variant}: no port in 20 s`)), 20_000);
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      buf += c;
      const m = /"bench":"listening".*?"port":(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { child, port, t0 };
}
const get = (port: number) =>
  new Promise<void>((resolve, reject) =>
    http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => res.resume().on("end", resolve)).on("error", reject)
  );
const kill = async (child: ChildProcess) => {
  child.kill("SIGKILL");
  await Promise.race([new Promise((r) => child.once("exit", r)), sleep(3000)]);
};
function wrk(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(PIN ? "taskset" : "wrk", [...(PIN ? ["-c", "0", "wrk"] : []), "-t1", "-c32", `-d${DURATION}s`, `http://127.0.0.1:${port}/`], { stdio: ["ignore", "pipe", "inherit"] });
    started.add(c);
    let out = "";
    c.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => c.kill("SIGKILL"), (DURATION + 10) * 1000);
    c.once("exit", () => {
      clearTimeout(timer);
      started.delete(c);
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      m ? resolve(Number(m[1])) : reject(new Error(out));
    });
  });
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const samples: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
if (metric === "tp") {
  const servers = await Promise.all(variants.map(start));
  for (const s of servers) await wrk(s.port); // warm-up
  for (let i = 0; i < RUNS; i++) {
    // Rotate the order each round.
    for (let j = 0; j < variants.length; j++) {
      const k = (i + j) % variants.length;
      samples[variants[k]!]!.push(await wrk(servers[k]!.port));
    }
  }
  for (const s of servers) await kill(s.child);
} else {
  for (let i = -1; i < RUNS; i++) {
    for (let j = 0; j < variants.length; j++) {
      const v = variants[(i + 1 + j) % variants.length]!;
      const s = await start(v);
      await get(s.port);
      const cold = performance.now() - s.t0;
      await sleep(metric === "rss" ? 300 : 0);
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, "utf8"))![1]) / 1024;
      await kill(s.child);
      if (i >= 0) samples[v]!.push(metric === "rss" ? rss : cold); // run -1 is a discarded warm-up
    }
  }
}
const base = median(samples[variants[0]!]!);
for (const v of variants) {
  const m = median(samples[v]!);
  const unit = metric === "tp" ? "req/s" : metric === "rss" ? "MiB" : "ms";
  const vs = metric === "tp" || metric === "rss" ? `${(m / base).toFixed(3)}x` : `${(m - base).toFixed(1)} ms`;
  console.log(`${rtName} ${metric} ${v.padEnd(34)} median ${m.toFixed(1)} ${unit}  vs ${variants[0]}: ${vs}  [${samples[v]!.map((x) => x.toFixed(1)).join(" ")}]`);
}
