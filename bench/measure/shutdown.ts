/**
 * Exit latency and memory with N idle keep-alive connections: a fresh server, one GET /, N
 * connections opened by the holder process (each sends one request, then idles), a short settle,
 * RSS read, then the signal and the time until this process sees the server exit.
 *
 * The floor is the serveGracefully process itself SIGKILLed at that moment: the time the kernel
 * needs to end a process that holds N sockets. Nothing can exit faster; what serveGracefully
 * adds is its distance from the floor.
 */
import type { Runtime } from "../../test/support/runtimes.ts";
import { IdleConnections } from "../lib/idle.ts";
import { exitWithin, get, now, rssKiB, type ServerSpec, sleep, startServer, stopServer } from "../lib/processes.ts";
import { max, median, min, round1 } from "../lib/stats.ts";
import type { ShutdownResult, ShutdownRun, ShutdownVariant, ShutdownVariantResult } from "../results.ts";

/** A server that has not exited this long after the signal counts as hung. */
const EXIT_DEADLINE_MS = 10_000;

/** One server (`spec`, one-route app) with `connections` idle ones, ended by `signal`: how long until it exits. */
export async function exitOnce(
  rt: Runtime,
  spec: Omit<ServerSpec, "app">,
  connections: number,
  signal: "SIGTERM" | "SIGKILL",
): Promise<ShutdownRun> {
  const s = await startServer(rt, { app: "one-route", ...spec });
  let idle: IdleConnections | undefined;
  try {
    if ((await get(s.port)) !== 200) throw new Error(`${rt.name} ${spec.mode}: GET / did not answer 200`);
    if (connections > 0) {
      idle = new IdleConnections(s.port, connections);
      await idle.ready();
    }
    await sleep(300); // settle; well inside Node's 5 s keep-alive timeout and Bun's 10 s idle timeout
    const rss = rssKiB(s.pid);
    const openAtSignal = idle ? await idle.open() : 0;
    const t0 = now();
    s.child.kill(signal);
    const exit = await exitWithin(s, EXIT_DEADLINE_MS);
    if (exit === undefined) {
      return { ms: NaN, exit: `still running after ${EXIT_DEADLINE_MS / 1000} s`, rssKiB: rss, openAtSignal, killed: true };
    }
    // stdout may hold the last lines still: wait for the pipes to close (bounded).
    await Promise.race([new Promise((resolve) => s.child.once("close", resolve)), sleep(1_000)]);
    const end = /"event":"drain\.end".*?"durationMs":([\d.]+)/.exec(s.output.join(""));
    return {
      ms: exit.at - t0,
      exit: exit.signal ?? String(exit.code),
      rssKiB: rss,
      openAtSignal,
      killed: false,
      ...(end ? { drainMs: Number(end[1]) } : {}),
    };
  } finally {
    idle?.close();
    await stopServer(s);
  }
}

const shutdownOnce = (rt: Runtime, variant: ShutdownVariant, connections: number): Promise<ShutdownRun> =>
  exitOnce(
    rt,
    { mode: variant === "bare-close" ? "bare" : "graceful", shutdown: "close" },
    connections,
    variant === "floor" ? "SIGKILL" : "SIGTERM",
  );

export interface ShutdownSettings {
  runs: number;
  variants: ShutdownVariant[];
  log: (line: string) => void;
}

export async function shutdown(rt: Runtime, connections: number, s: ShutdownSettings): Promise<ShutdownResult> {
  const runs = new Map<ShutdownVariant, ShutdownRun[]>(s.variants.map((v) => [v, []]));
  for (let i = 0; i < s.runs; i++) {
    // Alternate the order of the variants from run to run.
    const order = i % 2 === 0 ? s.variants : [...s.variants].reverse();
    for (const v of order) runs.get(v)!.push(await shutdownOnce(rt, v, connections));
  }
  const variants: Partial<Record<ShutdownVariant, ShutdownVariantResult>> = {};
  for (const [v, list] of runs) {
    const ms = list.filter((r) => !r.killed).map((r) => r.ms);
    const drain = list.flatMap((r) => (r.drainMs === undefined ? [] : [r.drainMs]));
    variants[v] = {
      ms: round1(median(ms)),
      msMin: round1(min(ms)),
      msMax: round1(max(ms)),
      rssKiB: Math.round(median(list.map((r) => r.rssKiB))),
      exit: [...new Set(list.map((r) => r.exit))],
      openAtSignal: min(list.map((r) => r.openAtSignal)),
      ...(drain.length ? { drainMs: round1(median(drain)) } : {}),
      runs: list.map((r) => ({ ...r, ms: round1(r.ms) })),
    };
  }
  const line = s.variants.map((v) => {
    const r = variants[v]!;
    return `${v} ${r.ms} ms (exit ${r.exit.join("/")}, ${Math.round(r.rssKiB / 1024)} MiB)`;
  }).join(", ");
  s.log(`  ${rt.name} exit with ${connections} idle connections: ${line}`);
  return { connections, variants };
}
