/**
 * New connections arriving at a steady rate across a shutdown, as when a load balancer has not yet
 * noticed the 503: each connects, sends one whole request, and reads the answer. What each client
 * saw is sorted: answered; refused (nothing was sent: safe to retry); ambiguous (the whole request
 * was sent, then a reset or an empty close: the client cannot tell whether it ran).
 */
import net from "node:net";
import { Fixture, type Runtime } from "./harness.ts";

export interface ArrivalCounts {
  answered: number;
  refused: number;
  ambiguous: number;
  /** Answers other than 200. */
  failed: number;
  exitCode: number | null;
  /** For each ambiguous client: how it ended (reset or clean close) and when, from the signal (ms). */
  ambiguities: { how: "reset" | "closed"; connectedAt: number; endedAt: number }[];
}

type Outcome = { kind: "answered" | "refused" | "failed" } | {
  kind: "ambiguous";
  how: "reset" | "closed";
  connectedAt: number;
  endedAt: number;
};

function arrive(port: number, target: string, ms: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let connectedAt = 0;
    let reset = false;
    let data = "";
    const timer = setTimeout(() => finish(), ms);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      if (!connectedAt) return resolve({ kind: "refused" });
      const status = /^HTTP\/1\.1 (\d+)/.exec(data)?.[1];
      const complete = data.includes("\r\n\r\n");
      if (!complete) return resolve({ kind: "ambiguous", how: reset ? "reset" : "closed", connectedAt, endedAt: performance.now() });
      resolve({ kind: status === "200" ? "answered" : "failed" });
    };
    socket.on("connect", () => {
      connectedAt = performance.now();
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", () => {
      reset = true;
      finish();
    });
    socket.on("close", () => finish());
  });
}

/**
 * Starts `file` on `runtime`, opens `perTick` new connections every `intervalMs` from `leadMs` before the
 * signal until the process exits (at most `maxMs`), and counts what the clients saw.
 */
export async function measureArrivals(
  runtime: Runtime,
  file: string,
  options: Record<string, unknown>,
  { intervalMs = 2, perTick = 1, leadMs = 200, target = "/slow?ms=20", maxMs = 10_000 } = {},
): Promise<ArrivalCounts> {
  const fixture = await Fixture.start(runtime, file, options);
  const outcomes: Promise<Outcome>[] = [];
  let exited = false;
  void fixture.exited.then(() => (exited = true));
  const until = performance.now() + maxMs;
  const loop = (async () => {
    // Keep arriving a little after the exit, so the refusals after the close are seen too.
    let afterExit = 10;
    while (performance.now() < until && (!exited || afterExit-- > 0)) {
      for (let i = 0; i < perTick; i++) outcomes.push(arrive(fixture.port, target, 5_000));
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  await new Promise((resolve) => setTimeout(resolve, leadMs));
  const signalAt = fixture.signal("SIGTERM");
  let exit;
  try {
    exit = await fixture.exit(maxMs);
  } finally {
    fixture.kill();
  }
  await loop;
  const counts: ArrivalCounts = { answered: 0, refused: 0, ambiguous: 0, failed: 0, exitCode: exit.code, ambiguities: [] };
  for (const outcome of await Promise.all(outcomes)) {
    counts[outcome.kind]++;
    if (outcome.kind === "ambiguous") {
      const { how, connectedAt, endedAt } = outcome;
      counts.ambiguities.push({ how, connectedAt: Math.round(connectedAt - signalAt), endedAt: Math.round(endedAt - signalAt) });
    }
  }
  return counts;
}
