/** The load generator: wrk, one thread, C connections, for S seconds; optionally pinned to a CPU. */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT, track } from "./processes.ts";
import type { AppName } from "./processes.ts";

export interface LoadResult {
  rps: number;
  requests: number;
  errors: number;
}

/** wrk's version line, or undefined when wrk is not installed. */
export function wrkVersion(): string | undefined {
  const r = spawnSync("wrk", ["--version"], { encoding: "utf8", timeout: 5_000 });
  if (r.error) return undefined;
  return `${r.stdout}${r.stderr}`.split("\n")[0]!.replace(/ Copyright.*/, "").trim();
}

/** The realistic app is driven by a request mix (bench/apps/realistic.lua); the one-route app by GET /. */
const SCRIPTS: Record<AppName, string[]> = {
  "one-route": [],
  realistic: ["-s", path.join(ROOT, "bench", "apps", "realistic.lua")],
};

export function runLoad(port: number, app: AppName, options: { seconds: number; connections: number; cpu?: number }): Promise<LoadResult> {
  const args = ["-t1", `-c${options.connections}`, `-d${options.seconds}s`, ...SCRIPTS[app], `http://127.0.0.1:${port}/`];
  const [command, argv] = options.cpu === undefined ? ["wrk", args] : ["taskset", ["-c", String(options.cpu), "wrk", ...args]];
  return new Promise((resolve, reject) => {
    const child = track(spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    let err = "";
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), (options.seconds + 15) * 1000);
    // 'close', not 'exit': that can come before wrk's summary has been read (a busy machine).
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${err}${out}`));
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
      const requests = /(\d+) requests in/.exec(out)?.[1];
      if (rps === undefined || requests === undefined) return reject(new Error(`cannot read wrk's output:\n${out}\n${err}`));
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
      resolve({ rps: Number(rps), requests: Number(requests), errors });
    });
  });
}
