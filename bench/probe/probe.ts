// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * The CONTEXT.md probe, run against serve-gracefully on Node, Bun and Deno:
 *   1. exit latency after the last in-flight request ends (2 s request, SIGTERM 300 ms in)
 *   2. idle keep-alive client: signal -> exit
 *   3. under load: 32 keep-alive clients; resets / refusals / successes after the signal
 *   4. acknowledged background writes lost (50 x POST /write, SIGTERM after the last 202)
 *   5. SSE stream that ignores shutdown, timeout 2000: signal -> exit, exit code
 *
 * Usage: node --import tsx bench/probe/probe.ts [node|bun|deno ...] [--load-runs N] [--runs N]
 *        [--only 1,2,3,4,5] [--trace]
 * --drain-delay MS passes { drainDelay: MS } to the fixture for metric 3 only (an experiment, not a metric).
 * --trace runs metric 3 against bench/probe/traced-fixture.ts (same app, server-side timestamps).
 * --out FILE writes the JSON there instead of bench/probe/results.json.
 * Results: a table per runtime on stdout, everything in bench/probe/results.json.
 */
import { writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { Connection, request } from "../../test/support/client.ts";
import { Fixture, ROOT } from "../../test/support/harness.ts";
import { type Runtime, RUNTIMES } from "../../test/support/runtimes.ts";

const SERVER = "test/fixtures/server.ts";
const TRACED = "bench/probe/traced-fixture.ts";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const wall = () => performance.timeOrigin + performance.now();
const round = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? undefined : Math.round(n));

// ---- arguments ----------------------------------------------------------------------------------
const { values: args, positionals: names } = parseArgs({
  allowPositionals: true,
  strict: true,
  options: {
    only: { type: "string", default: "1,2,3,4,5" },
    runs: { type: "string", default: "1" },
    "load-runs": { type: "string", default: "5" },
    trace: { type: "boolean", default: false },
    "drain-delay": { type: "string" },
    out: { type: "string", default: path.join(ROOT, "bench", "probe", "results.json") },
  },
});
const count = (name: string, text: string, lowest: number, highest: number) => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < lowest || n > highest) throw new RangeError(`--${name} must be an integer from ${lowest} to ${highest}`);
  return n;
};
const onlyArg = args.only.split(",").map((s) => count("only", s, 1, 5));
const RUNS = count("runs", args.runs, 1, 100); // metrics 1, 2, 4, 5
const LOAD_RUNS = count("load-runs", args["load-runs"], 1, 100); // metric 3
const TRACE = args.trace;
const LOAD_OPTIONS: Record<string, unknown> = args["drain-delay"] !== undefined
  ? { drainDelay: count("drain-delay", args["drain-delay"], 0, 60_000) }
  : {}; // metric 3 experiment
for (const name of names) {
  if (!["node", "bun", "deno"].includes(name)) throw new RangeError(`unknown runtime ${JSON.stringify(name)}: node, bun or deno`);
}
const runtimes: Runtime[] = names.length ? RUNTIMES.filter((r) => names.includes(r.name)) : RUNTIMES;

// Every process this probe starts, so a crash or Ctrl+C ends exactly those (by PID) and no others.
const started = new Set<Fixture>();
async function start(runtime: Runtime, file: string, options: Record<string, unknown> = {}): Promise<Fixture> {
  const fixture = new Fixture(runtime, file, options);
  started.add(fixture);
  void fixture.exited.then(() => started.delete(fixture));
  const line = await fixture.waitFor((l) => l.fixture === "listening", 15_000, "the fixture to listen");
  fixture.port = line.port as number;
  return fixture;
}
const killAll = () => {
  for (const f of started) f.kill();
};
process.on("exit", killAll);
process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});

/** Waits for exit within `ms`; on timeout SIGKILLs the fixture (its PID only) and says so. */
async function exitWithin(f: Fixture, ms: number): Promise<{ code: number | null; signal: string | null; at: number; killed: boolean }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  const result = await Promise.race([f.exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    f.kill();
    const e = await f.exited;
    return { ...e, killed: true };
  }
  // stdout may still hold lines written just before exit: wait for the pipes to close (bounded).
  await Promise.race([new Promise((resolve) => f.child.once("close", resolve)), sleep(1_000)]);
  return { ...result, killed: false };
}

// ---- metric 1 ----------------------------------------------------------------------------------
async function metric1(runtime: Runtime) {
  const f = await start(runtime, SERVER);
  try {
    const connection = await Connection.open(f.port);
    const t0 = performance.now();
    const response = connection.request("GET", "/slow?ms=2000", 10_000);
    await f.waitFor((l) => l.fixture === "slow.start", 5_000, "slow.start");
    await sleep(Math.max(0, 300 - (performance.now() - t0)));
    const signalAt = f.signal("SIGTERM");
    const res = await response.catch((e: Error) => e);
    const exit = await exitWithin(f, 10_000);
    connection.close();
    if (res instanceof Error) return { error: res.message, exitCode: exit.code };
    return {
      status: res.status,
      connectionHeader: res.headers.connection ?? null,
      responseAfterSignalMs: round(res.at - signalAt),
      exitAfterResponseMs: round(exit.at - res.at),
      exitCode: exit.code,
      killed: exit.killed,
    };
  } finally {
    f.kill();
  }
}

// ---- metric 2 ----------------------------------------------------------------------------------
async function metric2(runtime: Runtime) {
  const f = await start(runtime, SERVER);
  try {
    const idle = await Connection.open(f.port);
    const first = await idle.request("GET", "/");
    await sleep(100); // idle for a moment, as a pooled client would be
    const signalAt = f.signal("SIGTERM");
    const exit = await exitWithin(f, 10_000);
    const closedAt = await idle.closed(1_000).catch(() => undefined);
    const result = {
      firstStatus: first.status,
      exitAfterSignalMs: round(exit.at - signalAt),
      connectionClosedAfterSignalMs: round(closedAt !== undefined ? closedAt - signalAt : undefined),
      connectionError: (idle.error as NodeJS.ErrnoException | undefined)?.code ?? null,
      exitCode: exit.code,
      killed: exit.killed,
    };
    idle.close();
    return result;
  } finally {
    f.kill();
  }
}

// ---- metric 3 ----------------------------------------------------------------------------------
const CLIENTS = 32;
const LOAD_BEFORE_MS = 1_000;
const LOAD_AFTER_MS = 1_500;
const MAX_REQUESTS_PER_CLIENT = 50_000; // bound on count (time bounds it first in practice)
const REQUEST_TIMEOUT_MS = 3_000;

type Outcome = "ok" | "reset" | "refused" | "timeout" | "other";
interface Sample {
  client: number;
  socket: number; // agent socket id (0 = none: refused before a socket connected)
  reused: boolean; // written on a kept-alive socket that had served a previous response
  sentAt: number; // wall clock, request handed to the agent
  writtenAt?: number; // wall clock, request bytes flushed to the socket ('finish')
  endAt: number;
  outcome: Outcome;
  code?: string;
  message?: string;
  status?: number;
  connClose?: boolean; // response said Connection: close
  prevEndAt?: number; // end of the previous response on the same socket
  bytesRead?: number; // bytes this request read from the socket before the error
}

function classify(error: NodeJS.ErrnoException): { outcome: Outcome; code: string } {
  const code = error.code ?? error.message;
  if (code === "ECONNREFUSED") return { outcome: "refused", code };
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/i.test(error.message)) return { outcome: "reset", code };
  if (code === "ETIMEDOUT" || code === "PROBE_TIMEOUT") return { outcome: "timeout", code };
  return { outcome: "other", code };
}

async function metric3(runtime: Runtime, run: number) {
  const f = await start(runtime, TRACE ? TRACED : SERVER, LOAD_OPTIONS);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS, maxFreeSockets: CLIENTS });
  const socketIds = new WeakMap<net.Socket, number>();
  const lastEnd = new WeakMap<net.Socket, number>();
  let nextSocket = 0;
  const samples: Sample[] = [];
  let signalAt = Number.POSITIVE_INFINITY; // wall clock
  const loadStart = wall();
  const stopAt = () => Math.min(signalAt + LOAD_AFTER_MS, loadStart + LOAD_BEFORE_MS + LOAD_AFTER_MS + 5_000);

  const one = (client: number) =>
    new Promise<Sample>((resolve) => {
      const sample: Sample = { client, socket: 0, reused: false, sentAt: wall(), endAt: 0, outcome: "ok" };
      let done = false;
      let socketRef: net.Socket | undefined;
      const finish = (patch: Partial<Sample>) => {
        if (done) return;
        done = true;
        Object.assign(sample, patch, { endAt: wall() });
        if (socketRef) sample.bytesRead = socketRef.bytesRead;
        resolve(sample);
      };
      const req = http.get({ host: "127.0.0.1", port: f.port, path: "/", agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (socketRef) lastEnd.set(socketRef, wall());
          finish({ outcome: "ok", status: res.statusCode, connClose: res.headers.connection === "close" });
        });
        res.on("error", (e: NodeJS.ErrnoException) => finish({ ...classify(e), message: e.message }));
      });
      req.on("socket", (socket: net.Socket) => {
        socketRef = socket;
        if (!socketIds.has(socket)) socketIds.set(socket, ++nextSocket);
        sample.socket = socketIds.get(socket)!;
        sample.reused = (req as http.ClientRequest & { reusedSocket: boolean }).reusedSocket;
        sample.prevEndAt = lastEnd.get(socket);
      });
      req.on("finish", () => (sample.writtenAt = wall()));
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error("probe timeout"), { code: "PROBE_TIMEOUT" })));
      req.on("error", (e: NodeJS.ErrnoException) => finish({ ...classify(e), message: e.message }));
    });

  const clients = Array.from({ length: CLIENTS }, async (_, client) => {
    for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && wall() < stopAt(); i++) {
      samples.push(await one(client));
    }
  });

  await sleep(LOAD_BEFORE_MS);
  const beforeSignal = samples.length;
  signalAt = wall();
  f.signal("SIGTERM");
  const exitP = exitWithin(f, LOAD_AFTER_MS + 10_000);
  await Promise.all(clients);
  const exit = await exitP;
  agent.destroy();
  const exitAt = performance.timeOrigin + exit.at;

  const after = samples.filter((s) => s.sentAt >= signalAt);
  const straddling = samples.filter((s) => s.sentAt < signalAt && s.endAt >= signalAt);
  const count = (list: Sample[], outcome: Outcome) => list.filter((s) => s.outcome === outcome).length;
  const trace = f.lines.filter((l) => l.fixture === "trace");
  const serverWall = (what: string) => (trace.find((l) => l.what === what)?.wall as number | undefined);
  const drainStart = f.lines.find((l) => l.event === "drain.start");
  const firstRefused = Math.min(...samples.filter((s) => s.outcome === "refused").map((s) => s.endAt));
  const rel = (t: number | undefined) => (t === undefined || !Number.isFinite(t) ? undefined : +(t - signalAt).toFixed(2));

  const listenerClosed = serverWall("net.Server.close") ?? serverWall("bun.stop") ?? serverWall("deno.shutdown");
  const idleClosed = serverWall("http.Server.close(closeIdle)") ?? serverWall("bun.closeIdleConnections");
  const resets = samples.filter((s) => s.outcome === "reset" && s.endAt >= signalAt).map((s) => ({
    client: s.client,
    socket: s.socket,
    code: s.code,
    message: s.message,
    reusedSocket: s.reused,
    sentMs: rel(s.sentAt),
    writtenMs: rel(s.writtenAt),
    errorMs: rel(s.endAt),
    socketIdleBeforeThisRequestMs: s.prevEndAt !== undefined ? +(s.sentAt - s.prevEndAt).toFixed(3) : null,
    previousResponseBeforeSignal: s.prevEndAt !== undefined ? s.prevEndAt < signalAt : null,
    sentAfterListenerClosed: listenerClosed !== undefined ? s.sentAt >= listenerClosed : null,
    sentAfterIdleClose: idleClosed !== undefined ? s.sentAt >= idleClosed : null,
    bytesReadOnSocket: s.bytesRead,
    afterExit: s.endAt >= exitAt,
  }));
  // Server-side socket destroys of sockets that were idle (no response in progress) by our trace.
  const idleDestroys = trace.filter((l) => l.what === "socket.destroy" && l.httpMessage === false).map((l) => ({
    id: l.id,
    atMs: rel(l.wall as number),
    readableLength: l.readableLength,
    stack: l.stack,
  }));
  const okAfter = after.filter((s) => s.outcome === "ok");
  return {
    run,
    requestsBeforeSignal: beforeSignal,
    throughputBeforeSignalPerS: Math.round(beforeSignal / (LOAD_BEFORE_MS / 1000)),
    sentAfterSignal: after.length,
    afterSignal: {
      ok: okAfter.length,
      okWithConnectionClose: okAfter.filter((s) => s.connClose).length,
      reset: count(after, "reset"),
      refused: count(after, "refused"),
      timeout: count(after, "timeout"),
      other: count(after, "other"),
    },
    inFlightAtSignal: {
      total: straddling.length,
      ok: count(straddling, "ok"),
      reset: count(straddling, "reset"),
      other: straddling.length - count(straddling, "ok") - count(straddling, "reset"),
    },
    resetsTotal: resets.length,
    exitAfterSignalMs: round(exitAt - signalAt),
    exitCode: exit.code,
    killed: exit.killed,
    timeline: {
      drainStartLogged: drainStart ? rel(performance.timeOrigin + drainStart.at) : undefined,
      serverSignalMs: rel(serverWall("signal")),
      listenerCloseMs: rel(listenerClosed),
      idleCloseMs: rel(idleClosed),
      firstRefusedMs: rel(firstRefused),
      lastOkMs: rel(Math.max(...samples.filter((s) => s.outcome === "ok").map((s) => s.endAt))),
    },
    resets,
    serverIdleSocketDestroys: TRACE ? idleDestroys : undefined,
    serverTrace: TRACE
      ? trace.filter((l) => l.what !== "socket.destroy" || l.httpMessage === false).map((l) => ({
        what: l.what,
        atMs: rel(l.wall as number),
        id: l.id,
        force: l.force,
        pendingRequests: l.pendingRequests,
      }))
      : undefined,
    otherErrors: [...new Set(samples.filter((s) => s.outcome === "other" || s.outcome === "timeout").map((s) => s.code))],
  };
}

// ---- metric 4 ----------------------------------------------------------------------------------
async function metric4(runtime: Runtime) {
  const f = await start(runtime, SERVER);
  try {
    const N = 50;
    const acks = await Promise.all(
      Array.from(
        { length: N },
        (_, id) =>
          request(f.port, "POST", `/write?id=${id}&ms=${100 + Math.floor(Math.random() * 701)}`, 5_000).then(
            (r) => r.status,
            () => 0,
          ),
      ),
    );
    const acknowledged = acks.filter((s) => s === 202).length;
    const signalAt = f.signal("SIGTERM");
    const exit = await exitWithin(f, 10_000);
    const done = new Set(f.lines.filter((l) => l.fixture === "write.done").map((l) => l.id)).size;
    return {
      acknowledged,
      done,
      lost: acknowledged - done,
      exitAfterSignalMs: round(exit.at - signalAt),
      exitCode: exit.code,
      killed: exit.killed,
    };
  } finally {
    f.kill();
  }
}

// ---- metric 5 ----------------------------------------------------------------------------------
async function metric5(runtime: Runtime) {
  const f = await start(runtime, SERVER, { timeout: 2000 });
  const socket = net.connect({ port: f.port, host: "127.0.0.1" });
  try {
    let received = "";
    let resetCode: string | null = null;
    let endedAt: number | undefined;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.on("error", (e: NodeJS.ErrnoException) => (resetCode = e.code ?? e.message));
    socket.on("close", () => (endedAt ??= performance.now()));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.write("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    const deadline = performance.now() + 5_000;
    while (!received.includes("data: open") && performance.now() < deadline) await sleep(10);
    if (!received.includes("data: open")) throw new Error(`SSE did not open: ${received}`);
    const signalAt = f.signal("SIGTERM");
    const exit = await exitWithin(f, 8_000);
    await Promise.race([new Promise((r) => socket.once("close", r)), sleep(500)]);
    return {
      exitAfterSignalMs: round(exit.at - signalAt),
      exitCode: exit.code,
      killed: exit.killed,
      streamEndedAfterSignalMs: round(endedAt !== undefined ? endedAt - signalAt : undefined),
      streamEndedBy: resetCode ?? (endedAt !== undefined ? "FIN" : "still open"),
      ticksReceived: (received.match(/data: tick/g) ?? []).length,
    };
  } finally {
    socket.destroy();
    f.kill();
  }
}

// ---- main --------------------------------------------------------------------------------------
const median = (xs: (number | undefined | null)[]) => {
  const v = xs.filter((x): x is number => typeof x === "number").sort((a, b) => a - b);
  return v.length ? v[Math.floor((v.length - 1) / 2)] : undefined;
};
const safe = async <T>(fn: () => Promise<T>): Promise<T | { error: string }> => {
  try {
    return await fn();
  } catch (error) {
    return { error: (error as Error).message.split("\n")[0]! };
  }
};

const results: Record<string, any> = {
  when: new Date().toISOString(),
  versions: { node: process.version },
  settings: {
    loadOptions: LOAD_OPTIONS,
    runs: RUNS,
    loadRuns: LOAD_RUNS,
    clients: CLIENTS,
    loadBeforeMs: LOAD_BEFORE_MS,
    loadAfterMs: LOAD_AFTER_MS,
    trace: TRACE,
  },
  runtimes: {},
};

for (const runtime of runtimes) {
  const r: Record<string, any> = {};
  results.runtimes[runtime.name] = r;
  const repeat = async (n: number, fn: (i: number) => Promise<unknown>) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await safe(() => fn(i)));
    return out;
  };
  if (onlyArg.includes(1)) r.m1 = await repeat(RUNS, () => metric1(runtime));
  if (onlyArg.includes(2)) r.m2 = await repeat(RUNS, () => metric2(runtime));
  if (onlyArg.includes(3)) r.m3 = await repeat(LOAD_RUNS, (i) => metric3(runtime, i + 1));
  if (onlyArg.includes(4)) r.m4 = await repeat(RUNS, () => metric4(runtime));
  if (onlyArg.includes(5)) r.m5 = await repeat(RUNS, () => metric5(runtime));

  const rows: [string, string, string][] = [];
  const list = (xs: unknown[] | undefined, pick: (x: any) => unknown) =>
    (xs ?? []).map((x: any) => (x?.error ? "ERR" : pick(x))).join(", ");
  if (r.m1) {
    rows.push([
      "1 exit after last response (ms)",
      list(r.m1, (x) => `${x.exitAfterResponseMs} (exit ${x.exitCode}, ${x.connectionHeader ?? "-"})`),
      "≤ 200",
    ]);
  }
  if (r.m2) {
    rows.push([
      "2 idle keep-alive: signal→exit (ms)",
      list(r.m2, (x) => `${x.exitAfterSignalMs} (exit ${x.exitCode}${x.connectionError ? `, ${x.connectionError}` : ""})`),
      "≤ 200",
    ]);
  }
  if (r.m3) {
    rows.push(["3 resets after signal, per run", list(r.m3, (x) => x.resetsTotal), "≤ 1 (goal 0)"]);
    rows.push(["3 ok / refused after signal", list(r.m3, (x) => `${x.afterSignal.ok}/${x.afterSignal.refused}`), ""]);
    rows.push(["3 signal→exit (ms)", list(r.m3, (x) => `${x.exitAfterSignalMs}${x.killed ? " KILLED" : ""}`), ""]);
  }
  if (r.m4) rows.push(["4 writes lost (acked-done)", list(r.m4, (x) => `${x.lost} (${x.done}/${x.acknowledged})`), "0"]);
  if (r.m5) {
    rows.push([
      "5 SSE: signal→exit (ms), code",
      list(r.m5, (x) => `${x.exitAfterSignalMs} code ${x.exitCode}${x.killed ? " KILLED" : ""}`),
      "~2000",
    ]);
  }
  const w0 = Math.max(...rows.map((x) => x[0].length)), w1 = Math.max(...rows.map((x) => x[1].length), 6);
  console.log(`\n== ${runtime.name} ==`);
  console.log(`${"metric".padEnd(w0)} | ${"result".padEnd(w1)} | target`);
  console.log(`${"-".repeat(w0)}-+-${"-".repeat(w1)}-+-------`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c}`);
  r.summary = {
    m1ExitAfterResponseMsMedian: median((r.m1 ?? []).map((x: any) => x.exitAfterResponseMs)),
    m2ExitAfterSignalMsMedian: median((r.m2 ?? []).map((x: any) => x.exitAfterSignalMs)),
    m3ResetsPerRun: (r.m3 ?? []).map((x: any) => x.resetsTotal),
    m4LostPerRun: (r.m4 ?? []).map((x: any) => x.lost),
    m5ExitAfterSignalMsMedian: median((r.m5 ?? []).map((x: any) => x.exitAfterSignalMs)),
  };
}

const out = path.resolve(args.out);
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
console.log(`\nwrote ${path.relative(process.cwd(), out)}`);
