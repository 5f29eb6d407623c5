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
  /** When the process exited, from the signal (ms, as this process saw it). */
  exitedAt: number;
  /** The first refused connection attempt, from the signal (ms): about when the listener closed. */
  firstRefusedAt: number | undefined;
  /** For each ambiguous client: how it ended (reset or clean close) and when, from the signal (ms). */
  ambiguities: { how: "reset" | "closed"; connectedAt: number; endedAt: number }[];
}

type Outcome = { kind: "answered" | "failed" } | { kind: "refused"; at: number } | {
  kind: "ambiguous";
  how: "reset" | "closed";
  connectedAt: number;
  endedAt: number;
};

function arrive(port: number, target: string, ms: number, keepAlive: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let connectedAt = 0;
    let reset = false;
    let data = "";
    const timer = setTimeout(() => finish(), ms);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      if (!connectedAt) return resolve({ kind: "refused", at: performance.now() });
      const status = /^HTTP\/1\.1 (\d+)/.exec(data)?.[1];
      const complete = data.includes("\r\n\r\n");
      if (!complete) return resolve({ kind: "ambiguous", how: reset ? "reset" : "closed", connectedAt, endedAt: performance.now() });
      resolve({ kind: status === "200" ? "answered" : "failed" });
    };
    socket.on("connect", () => {
      connectedAt = performance.now();
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${keepAlive ? "" : "Connection: close\r\n"}\r\n`);
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
      if (keepAlive && data.includes("\r\n\r\n")) finish();
    });
    socket.on("error", () => {
      reset = true;
      finish();
    });
    socket.on("close", () => finish());
  });
}

export interface ArrivalLoad {
  /**
   * New connections per second, on the clock: a late timer (busy machine) makes up at most
   * `maxBurst` at once and skips the rest, as an arrival process does not burst to make up a gap
   * (a burst right after a gap is the client's artifact, and lands on a drain that read the gap as quiet).
   */
  rate?: number;
  maxBurst?: number;
  /**
   * Arrivals start this long before the signal: the server has been serving a while, warm, as in
   * production (a cold start still compiling its code at 1,000 a second fell behind at once).
   */
  leadMs?: number;
  target?: string;
  maxMs?: number;
  /** Clients that do not ask to close (a browser, a balancer's pool): the server must close after its answer. */
  keepAlive?: boolean;
}

/**
 * Starts `file` on `runtime`, opens `rate` new connections a second from `leadMs` before the signal
 * until the process exits (at most `maxMs`), and counts what the clients saw.
 */
export async function measureArrivals(
  runtime: Runtime,
  file: string,
  options: Record<string, unknown>,
  { rate = 1_000, maxBurst = 3, leadMs = 1_000, target = "/slow?ms=20", maxMs = 10_000, keepAlive = false }: ArrivalLoad = {},
): Promise<ArrivalCounts> {
  const fixture = await Fixture.start(runtime, file, options);
  const outcomes: Promise<Outcome>[] = [];
  let exited = false;
  void fixture.exited.then(() => (exited = true));
  const startedAt = performance.now();
  const until = startedAt + maxMs;
  const loop = (async () => {
    // Keep arriving a little after the exit, so the refusals after the close are seen too.
    let afterExit = 10;
    let owed = 0;
    while (performance.now() < until && (!exited || afterExit-- > 0)) {
      // As many as the rate asks by now, at most maxBurst; the rest of a gap is skipped.
      const due = Math.floor(((performance.now() - startedAt) * rate) / 1_000) - owed;
      owed += due;
      for (let i = 0; i < Math.min(due, maxBurst); i++) outcomes.push(arrive(fixture.port, target, 5_000, keepAlive));
      await new Promise((resolve) => setTimeout(resolve, 1));
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
  const counts: ArrivalCounts = {
    answered: 0,
    refused: 0,
    ambiguous: 0,
    failed: 0,
    exitCode: exit.code,
    exitedAt: Math.round(exit.at - signalAt),
    firstRefusedAt: undefined,
    ambiguities: [],
  };
  for (const outcome of await Promise.all(outcomes)) {
    counts[outcome.kind]++;
    if (outcome.kind === "refused") {
      const at = Math.round(outcome.at - signalAt);
      if (counts.firstRefusedAt === undefined || at < counts.firstRefusedAt) counts.firstRefusedAt = at;
    }
    if (outcome.kind === "ambiguous") {
      const { how, connectedAt, endedAt } = outcome;
      counts.ambiguities.push({ how, connectedAt: Math.round(connectedAt - signalAt), endedAt: Math.round(endedAt - signalAt) });
    }
  }
  return counts;
}
