/**
 * The Node adapter over HTTP/2 on real sockets: each session gets GOAWAY at the drain, open streams
 * finish, no new stream is accepted, and Hono's streamSSE works (connection headers stripped).
 * Through a real SIGTERM: no stream a client sent is refused (node:http2, h2load), and an HTTPS/1.1
 * response streaming at the signal arrives whole, from https.createServer and from http2 with allowHTTP1.
 */
import assert from "node:assert/strict";
import { loadavg } from "node:os";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import http2 from "node:http2";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { connect as connectTls } from "node:tls";
import path from "node:path";
import { Duplex } from "node:stream";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createLifecycle, serveGracefully } from "../../adapters/node.ts";
import { Connection, exchange } from "../support/client.ts";
import { fixtureStarter, RUNTIMES } from "../support/harness.ts";
import { nextRequestAfterTheSignal } from "../support/next-request.ts";
import { keepStreamsInFlight } from "../support/http2-client.ts";

const tls = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/tls");
const H2LOAD = "/usr/bin/h2load";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a new TCP connection to the port is refused (its listener closed). */
function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(true));
  });
}

/**
 * A TCP connection whose TLS client sent its hello and never reads the server's answer, so never
 * sends its Finished: resolves once the server's hello has come (the server waits in its handshake).
 */
function stalledInTlsHandshake(port: number, ms = 5_000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host: "127.0.0.1" });
    // The TLS client writes through this pipe; what the server sends is never passed back to it.
    const pipe = new Duplex({ read() {}, write: (chunk, _encoding, done) => void raw.write(chunk, done) });
    const client = connectTls({ socket: pipe, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    client.on("error", () => {});
    const timer = setTimeout(() => (raw.destroy(), reject(new Error(`no server hello from ${port} in ${ms} ms`))), ms);
    raw.once("data", () => (clearTimeout(timer), resolve(raw)));
    raw.once("error", (error) => (clearTimeout(timer), reject(error)));
  });
}

/** The app served in this process on 127.0.0.1, no signals, no log, by the server `createServer` makes. */
function serveInProcess(app: Parameters<typeof serveGracefully>[0], createServer: unknown, serverOptions?: Record<string, unknown>) {
  return serveGracefully(app, {
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger: false,
    timeout: 10_000,
    lifecycle: createLifecycle(),
    createServer: createServer as typeof https.createServer,
    ...(serverOptions && { serverOptions }),
  });
}

/** The fixtures' certificate and key, for a TLS server. */
const tlsOptions = () => ({ key: readFileSync(path.join(tls, "localhost.key")), cert: readFileSync(path.join(tls, "localhost.crt")) });

function get(session: http2.ClientHttp2Session, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": target });
    let status = 0;
    let body = "";
    stream.setEncoding("utf8");
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve({ status, body }));
    stream.on("error", reject);
    setTimeout(() => reject(new Error(`no answer to ${target} within 5 s`)), 5_000).unref();
  });
}

it("DrainsHttp2SessionsWithGoawayWhileOpenStreamsFinish", async () => {
  const app = new Hono();
  let slowStarted!: () => void;
  const slowStart = new Promise<void>((resolve) => (slowStarted = resolve));
  app.get("/slow", async (c) => {
    slowStarted();
    await sleep(400);
    return c.text("slow done");
  });
  app.get("/sse", (c) => streamSSE(c, async (stream) => stream.writeSSE({ data: "one" })));
  const server = serveInProcess(app, http2.createSecureServer, { ...tlsOptions(), allowHTTP1: true });
  const { port } = await server.ready;
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  try {
    const sse = await get(session, "/sse");
    assert.equal(sse.status, 200);
    assert.match(sse.body, /data: one/);
    const goaway = new Promise<number>((resolve) => session.once("goaway", () => resolve(performance.now())));
    const slow = get(session, "/slow");
    await slowStart;
    const report = server.shutdown();
    const [slowRes, goawayAt] = await Promise.all([slow, goaway]);
    assert.equal(slowRes.status, 200);
    assert.equal(slowRes.body, "slow done");
    assert.ok(goawayAt > 0);
    const done = await report;
    assert.equal(done.exitCode, 0);
    assert.equal(done.requests.inFlightAtStart, 1);
  } finally {
    session.destroy();
  }
});

const loadAverage = () => loadavg().map((n) => n.toFixed(1)).join(" ");

it("KeepsNothingOfAClosedConnectionWhenThePlainHttpCreateServerIsGiven", async () => {
  // The custom-server path noted each request's socket for the idle close, and only a TLS socket's
  // 'secureConnection' set up its forgetting: with http.createServer every connection stayed.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const sockets: WeakRef<object>[] = [];
  const app = new Hono<{ Bindings: { incoming: { socket: object } } }>();
  app.get("/", (c) => (sockets.push(new WeakRef(c.env.incoming.socket)), c.text("ok")));
  const server = serveInProcess(app, http.createServer);
  const { port } = await server.ready;
  try {
    for (let i = 0; i < 50; i++) {
      const answer = await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.equal(answer.status, 200);
    }
    let kept = sockets.length;
    for (let attempt = 0; attempt < 20 && kept > 5; attempt++) {
      await sleep(20);
      gc();
      kept = sockets.filter((ref) => ref.deref() !== undefined).length;
    }
    assert.ok(sockets.length === 50 && kept <= 5, `${kept} of ${sockets.length} closed connections still reachable`);
  } finally {
    await server.shutdown();
  }
});

it("AClientWhoseTlsHandshakeIsSlowAtTheDrainIsStillAnswered", async () => {
  // 600 ms of round trip and TLS 1.2 (two round trips): the handshake ends ~1.2 s after its accept.
  // A stalled handshake is closed at the drain (HANDSHAKE_GRACE_MS), a slow one must not be: a
  // grace of 1 s cut this one (EPIPE).
  const app = new Hono();
  app.get("/", (c) => c.text("ok"));
  const server = serveInProcess(app, https.createServer, tlsOptions());
  const { port } = await server.ready;
  const raw = net.connect({ port, host: "127.0.0.1" });
  // What the server sends reaches the TLS client 600 ms late; what the client sends goes at once.
  const pipe = new Duplex({ read() {}, write: (chunk, _encoding, done) => void raw.write(chunk, done) });
  raw.on("data", (chunk) => setTimeout(() => pipe.push(chunk), 600));
  raw.on("close", () => setTimeout(() => pipe.push(null), 600));
  raw.on("error", () => {});
  const client = connectTls({ socket: pipe, rejectUnauthorized: false, maxVersion: "TLSv1.2", ALPNProtocols: ["http/1.1"] });
  const answer = new Promise<string>((resolve) => {
    let text = "";
    client.on("secureConnect", () => client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    client.on("data", (chunk: Buffer) => (text += chunk.toString()));
    client.on("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    client.on("end", () => resolve(text.split("\r\n")[0]!));
  });
  await new Promise<void>((resolve, reject) => raw.once("connect", resolve).once("error", reject));
  const report = server.shutdown();
  try {
    assert.equal(await answer, "HTTP/1.1 200 OK");
    assert.equal((await report).forced, false);
  } finally {
    raw.destroy();
  }
});

it("ASessionThatBeginsAfterTheDrainStartedGetsItsGoawayToo", async () => {
  // A connection accepted before the listener closed whose session begins after (its TLS handshake
  // was late; with node:cluster, a connection the primary handed over as the worker closed).
  const app = new Hono();
  app.get("/", (c) => c.text("ok"));
  const server = serveInProcess(app, http2.createSecureServer, tlsOptions());
  const { port } = await server.ready;
  const raw = net.connect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => raw.once("connect", resolve).once("error", reject));
  await sleep(50); // accepted by the server
  const startedAt = performance.now();
  const report = server.shutdown();
  // The listener refuses new connections: close() ran, and with it the GOAWAYs (to no session yet).
  for (let attempt = 0; attempt < 100 && !(await refusesConnections(port)); attempt++) await sleep(20);
  assert.ok(await refusesConnections(port), "the listener closed within 2 s");
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    createConnection: () => connectTls({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ["h2"] }),
  });
  session.on("error", () => {});
  try {
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    const answer = await get(session, "/");
    assert.equal(answer.status, 200);
    await goaway;
    const done = await report;
    assert.equal(done.exitCode, 0, "not forced: the late session went away");
    assert.ok(performance.now() - startedAt < 5_000, "long before the 10 s deadline");
  } finally {
    session.destroy();
  }
});

describe("HTTP/2 through a SIGTERM (fixture process)", () => {
  const start = fixtureStarter("test/fixtures/http2.ts");
  const node = RUNTIMES.find((r) => r.name === "node")!;

  // Three runs: before the fix, streams were refused in 4 runs of 5 (measured), so a pass by luck
  // would take three lucky runs in a row. A stream written after the client answered both PINGs
  // crossed the GOAWAY on the wire (support/http2-client.ts): said, never a failure.
  it("RefusesNoStreamWhen100AreInFlightAtTheSignal", async (t) => {
    for (let run = 1; run <= 3; run++) {
      const f = await start(node);
      const result = await keepStreamsInFlight(f.port, "/", 100, (answered) => answered === 200 && f.signal("SIGTERM"), 30_000);
      assert.equal((await f.exit(10_000)).code, 0);
      assert.equal(result.failed, 0, `run ${run}: ${JSON.stringify(result)}`);
      assert.equal(result.refusedSent, 0, `run ${run}: streams sent before the PINGs' answers were refused: ${JSON.stringify(result)}`);
      assert.ok(result.answered > 200);
      if (result.refusedAfterPings + result.refusedUnsent > 0) {
        t.diagnostic(`HTTP/2 run ${run}: streams that crossed the GOAWAY (load average ${loadAverage()}): ${JSON.stringify(result)}`);
      }
    }
  });

  it("H2loadThroughTheDrainHasNoFailedRequest", { skip: !existsSync(H2LOAD) && "h2load not installed (nghttp2-client)" }, async () => {
    const f = await start(node);
    const h2load = spawn(H2LOAD, ["-D", "3", "-c", "4", "-m", "50", `https://127.0.0.1:${f.port}/`], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    for (const stream of [h2load.stdout, h2load.stderr]) stream.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const h2loadExit = new Promise<number | null>((resolve) => h2load.once("exit", resolve));
    try {
      await f.waitFor((line) => line.fixture === "answered", 20_000, "100 answers to h2load");
      f.signal("SIGTERM");
      assert.equal((await f.exit(10_000)).code, 0);
      const code = await Promise.race([h2loadExit, sleep(15_000).then(() => "no exit within 15 s")]);
      assert.equal(code, 0, output);
    } finally {
      h2load.kill("SIGKILL");
    }
    const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
    assert.ok(requests, output);
    const [succeeded, failed, errored] = [Number(requests[4]), Number(requests[5]), Number(requests[6])];
    assert.deepEqual({ failed, errored }, { failed: 0, errored: 0 }, output);
    assert.ok(succeeded >= 100, output);
  });
});

describe("HTTPS/1.1 through a SIGTERM (fixture process)", () => {
  const start = fixtureStarter("test/fixtures/http2.ts");
  const node = RUNTIMES.find((r) => r.name === "node")!;
  // The server's 'connection' sockets are the raw TCP under TLS, which show no response: a stream
  // in flight was cut by the exit (curl: partial transfer), and the report said exit 0, cut 0.
  // http2.createSecureServer with allowHTTP1 serves an HTTP/1.1 client (no ALPN) the same way.
  const servers = [{ http1: true, workers: 1 }, { http1: true, workers: 2 }, { http1: "allowHTTP1", workers: 1 }];
  for (const { http1, workers } of servers) {
    const server = http1 === true ? "https" : "http2 allowHTTP1";
    it(`AResponseStreamingAtTheSignalArrivesWholeAndTheDrainEndsWithIt (${server}, workers: ${workers})`, async () => {
      const f = await start(node, { http1, workers, timeout: 8_000 });
      const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
      try {
        const body = new Promise<string>((resolve, reject) => {
          https.get({ host: "127.0.0.1", port: f.port, path: "/stream?ms=1500", agent }, (res) => {
            let text = "";
            res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve(`${res.statusCode} ${text}`));
            res.on("error", reject);
          }).on("error", reject);
        });
        await f.waitFor((line) => line.fixture === "stream.start", 10_000, "the stream's start");
        f.signal("SIGTERM");
        assert.match(await body, /^200 [^]*done\n$/);
        const exit = await f.exit(15_000);
        assert.equal(exit.code, 0);
        const report = f.lines.find((line) => line.event === "drain.end")!;
        assert.equal(report.forced, false);
        assert.ok((report.durationMs as number) < 6_000, `the drain waited for the deadline: ${report.durationMs} ms`);
      } finally {
        agent.destroy();
      }
    });

    // A worker's close waits for its connections: a TCP connection that never began its TLS
    // handshake (a port check, a stalled client) held the drain to its deadline, forced, exit 1.
    if (workers === 2) {
      it(`AConnectionThatNeverStartsTlsDoesNotHoldTheDrain (${server}, workers: ${workers})`, async () => {
        const f = await start(node, { http1, workers, drainDelay: 0, timeout: 8_000 });
        const silent = await Promise.all(Array.from({ length: 4 }, () => Connection.open(f.port)));
        const sent = f.signal("SIGTERM");
        const exit = await f.exit(15_000);
        assert.equal(exit.code, 0);
        const report = f.lines.find((line) => line.event === "drain.end")!;
        assert.equal(report.forced, false);
        assert.ok(exit.at - sent < 4_000, `exited ${Math.round(exit.at - sent)} ms after the signal`);
        for (const connection of silent) connection.close();
      });
    }

    // A client stalled in its TLS handshake (its hello sent, the server's answered, its Finished
    // never comes): Node's handshakeTimeout is 120 s, and a worker's close waited for it to the
    // deadline. Closed 5 s after its accept (HANDSHAKE_GRACE_MS), well before this 20 s deadline.
    if (workers === 2) {
      it(`AConnectionStalledInItsTlsHandshakeDoesNotHoldTheDrain (${server}, workers: ${workers})`, async () => {
        const f = await start(node, { http1, workers, drainDelay: 0, timeout: 20_000 });
        const stalled = await Promise.all(Array.from({ length: 4 }, () => stalledInTlsHandshake(f.port)));
        const sent = f.signal("SIGTERM");
        const exit = await f.exit(30_000);
        for (const socket of stalled) socket.destroy();
        assert.equal(exit.code, 0);
        const report = f.lines.find((line) => line.event === "drain.end")!;
        assert.equal(report.forced, false);
        assert.ok(exit.at - sent < 12_000, `exited ${Math.round(exit.at - sent)} ms after the signal`);
      });
    }

    // As over plain HTTP (test/conformance/drain.test.ts): a client stalled a moment between an
    // answer and its next request keeps its connection for that request. http's own close of idle
    // connections reset it.
    it(`AKeptAliveClientSendingItsNextRequestAMomentAfterTheSignalIsAnswered (${server}, workers: ${workers})`, async (t) => {
      const f = await start(node, { http1, workers, drainDelay: 0, timeout: 8_000 });
      await nextRequestAfterTheSignal(t, f, await Connection.open(f.port, 5_000, { tls: true }));
      assert.equal((await f.exit(15_000)).code, 0);
    });
  }
});

it("AStreamBegunInTheDrainAndCutAtTheDeadlineCountsCutNotServed", async () => {
  const app = new Hono();
  app.get("/", (c) => c.text("hello"));
  app.get("/forever", (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; !stream.aborted && i < 1_000; i++) {
        await stream.writeSSE({ data: String(i) });
        await stream.sleep(50);
      }
    }));
  const server = serveGracefully(app, {
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger: false,
    timeout: 1_500,
    drainDelay: 500,
    lifecycle: createLifecycle(),
    createServer: http2.createSecureServer as unknown as typeof https.createServer,
    serverOptions: tlsOptions(),
  });
  const { port } = await server.ready;
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  session.on("error", () => {});
  try {
    assert.equal((await get(session, "/")).status, 200); // a plain answer before the drain: not in the report
    const report = server.shutdown();
    await sleep(100); // in the drain delay: still served
    let events = 0;
    const stream = session.request({ ":path": "/forever" });
    stream.on("error", () => {});
    stream.setEncoding("utf8").on("data", (chunk: string) => (events += chunk.split("data:").length - 1));
    const done = await report;
    assert.ok(events > 0, "the stream was begun and flowing");
    assert.equal(done.forced, true);
    assert.equal(done.exitCode, 1);
    assert.equal(done.requests.served, 0, JSON.stringify(done.requests));
    assert.equal(done.requests.cut, 1, JSON.stringify(done.requests));
  } finally {
    session.destroy();
  }
});

it("AnHttp2ResponseAnsweredInTheDrainCountsServedOnceWritten", async () => {
  const app = new Hono();
  let started = 0;
  let bothStarted!: () => void;
  const running = new Promise<void>((resolve) => (bothStarted = resolve));
  app.get("/slow", async (c) => {
    if (++started === 2) bothStarted();
    await sleep(300); // the handlers still run at the drain's start
    return c.text("x".repeat(100_000));
  });
  const server = serveInProcess(app, http2.createSecureServer, tlsOptions());
  const { port } = await server.ready;
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  try {
    const answers = Promise.all([get(session, "/slow"), get(session, "/slow")]);
    await running; // both in flight: not a fixed wait, which a slow TLS start overran
    const report = server.shutdown();
    const got = await answers;
    assert.deepEqual(got.map((a) => [a.status, a.body.length]), [[200, 100_000], [200, 100_000]]);
    const done = await report;
    assert.equal(done.exitCode, 0);
    assert.deepEqual(done.requests, { inFlightAtStart: 2, served: 2, cut: 0 });
  } finally {
    session.destroy();
  }
});

it("AStreamTheClientResetsBeforeItsAnswerCountsCut", async () => {
  // Node ends a reset stream's write side itself (writableFinished) though nothing was sent: taken
  // for a finished response, such a stream was counted served.
  const app = new Hono();
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => (started = resolve));
  app.get("/slow", async (c) => (started(), await sleep(300), c.text("late")));
  const server = serveInProcess(app, http2.createSecureServer, tlsOptions());
  const { port } = await server.ready;
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  session.on("error", () => {});
  try {
    const stream = session.request({ ":path": "/slow" });
    stream.on("error", () => {});
    await handlerStarted;
    const report = server.shutdown();
    stream.close(http2.constants.NGHTTP2_CANCEL); // while the handler runs, in the drain
    const done = await report;
    assert.deepEqual(done.requests, { inFlightAtStart: 1, served: 0, cut: 1 });
  } finally {
    session.destroy();
  }
});
