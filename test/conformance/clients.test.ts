/**
 * What real third-party clients send, byte for byte (issue 21), on Node, Bun and Deno:
 * - HAProxy's `option httpchk GET /readyz` and older checkers: HTTP/1.0 without a Host header
 *   (captured from HAProxy 2.6: exactly "GET /readyz HTTP/1.0\r\n\r\n"). Node answered 400.
 * - Chromium's spare connection: a connection that never sends a request. On Bun, one older than
 *   ~1 s held the drain until the deadline whenever a request was in flight at the listener close.
 * - node:http2 (gRPC's and other Node clients' HTTP/2) against Deno over TLS: it answers the
 *   server's GOAWAY with one of its own, and Deno then cancels the streams it has not answered. Held
 *   by the drain until shutdown(), every answer of a stream begun in the drain was cancelled.
 * The browser itself (Chromium) is driven in browser.test.ts.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { describe, it } from "node:test";
import { Connection, exchange } from "../support/client.ts";
import { fixtureStarter, selectedRuntimes } from "../support/harness.ts";

const start = fixtureStarter("test/fixtures/server.ts");
/** HAProxy 2.6's `option httpchk GET /readyz`, as it writes it on the wire. */
const HAPROXY_HTTPCHK = "GET /readyz HTTP/1.0\r\n\r\n";
/** The age past which Bun's stop() waited for a never-used connection (~1 s), with a margin. */
const SPARE_AGE_MS = 1_500;
const hasCurl = spawnSync("curl", ["--version"]).status === 0;

/** curl over HTTP/1.0 (it sends a Host header, and no keep-alive): the body and the status. */
function curl10(port: number, target: string): Promise<{ body: string; status: number }> {
  return new Promise((resolve, reject) => {
    const url = `http://127.0.0.1:${port}${target}`;
    execFile("curl", ["--http1.0", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url], (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${url}: ${stderr || error.message}`));
      const cut = stdout.lastIndexOf("\n");
      resolve({ body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) });
    });
  });
}

for (const runtime of selectedRuntimes()) {
  describe(`real clients' bytes on ${runtime.name}`, { concurrency: true }, () => {
    it("answers HTTP/1.0 requests without a Host header: health endpoints and the app, 503 while draining", async () => {
      const f = await start(runtime, { drainDelay: 1_500, timeout: 10_000 });
      const ready = await exchange(f.port, HAPROXY_HTTPCHK);
      assert.deepEqual([ready.status, ready.body, ready.reset], [200, "ok\n", false], ready.raw);
      const live = await exchange(f.port, "GET /livez HTTP/1.0\r\n\r\n");
      assert.deepEqual([live.status, live.body], [200, "ok\n"], live.raw);
      const app = await exchange(f.port, "GET /?from=checker HTTP/1.0\r\nUser-Agent: old-checker\r\n\r\n");
      assert.deepEqual([app.status, app.body], [200, "hello"], app.raw);
      assert.ok(f.lines.some((l) => l.fixture === "app.request" && l.path === "/"), "the app saw the request");

      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 5_000, "the drain to start");
      const draining = await exchange(f.port, HAPROXY_HTTPCHK);
      assert.equal(draining.status, 503, `a checker sees the drain: ${draining.raw}`);
      assert.equal((await f.exit(10_000)).code, 0);
    });

    it("a connection that sent nothing for 1.5 s does not hold a drain with a request in flight: exit 0 right after the response", {
      timeout: 30_000,
    }, async (t) => {
      const f = await start(runtime, { timeout: 10_000 });
      const spare = await Connection.open(f.port);
      // The age is the condition under test (Bun waited for such connections older than ~1 s).
      await new Promise((resolve) => setTimeout(resolve, SPARE_AGE_MS));
      const busy = await Connection.open(f.port);
      const response = busy.request("GET", "/slow?ms=800");
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the request to be in flight");
      f.signal("SIGTERM");
      const answer = await response;
      assert.deepEqual([answer.status, answer.body], [200, "slept 800"]);
      const exit = await f.exit(15_000);
      const afterResponse = exit.at - answer.at;
      t.diagnostic(`spare ${runtime.name}: exit ${exit.code} ${Math.round(afterResponse)} ms after the response`);
      assert.equal(
        exit.code,
        0,
        `exit ${exit.code} ${Math.round(afterResponse)} ms after the response: ${JSON.stringify(f.log("drain.end"))}`,
      );
      assert.ok(afterResponse < 3_000, `exit ${Math.round(afterResponse)} ms after the response (the deadline is 10 s)`);
      assert.equal(f.report()!.forced, false);
      await spare.closed(5_000);
      assert.equal(spare.error, undefined, "the spare connection ends with a FIN, not a reset");
      busy.close();
    });

    it("curl over HTTP/1.0 through the drain: the request in flight and one in the drain delay get 200, exit 0", {
      skip: hasCurl ? false : "curl is not installed",
    }, async () => {
      const f = await start(runtime, { drainDelay: 800, timeout: 10_000 });
      const inFlight = curl10(f.port, "/slow?ms=600");
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "curl's request to be in flight");
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 5_000, "the drain to start");
      const during = await curl10(f.port, "/");
      assert.deepEqual(during, { body: "hello", status: 200 });
      assert.deepEqual(await inFlight, { body: "slept 600", status: 200 });
      assert.equal((await f.exit(10_000)).code, 0);
      assert.equal(f.report()!.forced, false);
    });
  });
}

/** What back-to-back keep-alive clients saw: answers, refused reconnects, requests lost (written, then the connection closed unanswered). */
interface BackToBack {
  answered: number;
  refused: number;
  lost: number;
}

/**
 * `clients` connections sending an HTTP/1.0 `request` back to back, each reconnecting after an answer
 * that does not say `Connection: keep-alive`, until `stop()`. `answered(n)` resolves once n answers came.
 */
function backToBack(port: number, request: string, clients: number) {
  const seen: BackToBack = { answered: 0, refused: 0, lost: 0 };
  let stopped = false;
  const waiting: { n: number; resolve: () => void }[] = [];
  const client = () =>
    new Promise<void>((resolve) => {
      const connect = () => {
        if (stopped) return resolve();
        const socket = net.connect(port, "127.0.0.1");
        let buffer = "";
        let pending = false;
        let error: string | undefined;
        const send = () => {
          if (stopped) return void socket.destroy();
          [pending, buffer] = [true, ""];
          socket.write(request);
        };
        socket.setEncoding("latin1").on("connect", send).on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? "error"));
        socket.on("data", (chunk: string) => {
          buffer += chunk;
          const end = buffer.indexOf("\r\n\r\n");
          if (end < 0) return;
          if (buffer.length < end + 4 + Number(/content-length: *(\d+)/i.exec(buffer)?.[1] ?? 0)) return;
          pending = false;
          seen.answered++;
          for (const w of waiting.filter((w) => seen.answered >= w.n)) w.resolve();
          // HTTP/1.0: the connection stays only if the answer says keep-alive (Bun's never does), and
          // not close (Deno's HTTP/1.0 answers in a drain say both: runtime-notes.md).
          const head = buffer.slice(0, end);
          if (!/^connection: *keep-alive/im.test(head) || /^connection: *close/im.test(head)) return void socket.end();
          send();
        });
        socket.on("close", () => {
          if (error === "ECONNREFUSED") seen.refused++;
          else if (pending) seen.lost++;
          if (error !== undefined || pending || stopped) return resolve();
          connect(); // the server closed after an answer: a new connection, as a client does
        });
      };
      connect();
    });
  const all = Array.from({ length: clients }, client);
  return {
    seen,
    answered: (n: number) => new Promise<void>((resolve) => (seen.answered >= n ? resolve() : waiting.push({ n, resolve }))),
    stop: () => ((stopped = true), Promise.all(all)),
  };
}

/** `n` GET streams on one session; each ends as its status, or as the RST_STREAM code it got instead. */
function h2Streams(session: http2.ClientHttp2Session, path: string, n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<string>((resolve) => {
        const stream = session.request({ ":path": path });
        let status = 0;
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.on("error", () => {});
        stream.resume();
        stream.on("close", () => resolve(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? String(status) : `reset ${stream.rstCode}`));
      })),
  );
}

for (const runtime of selectedRuntimes()) {
  describe(`HTTP/1.0 keep-alive clients without a Host header on ${runtime.name}`, () => {
    // Such a client keeps its connection only with `Connection: keep-alive`, so it is no HTTP/2
    // stream (which the Deno adapter recognises by neither Host nor Connection): its answers in
    // the drain's hold wait for the listener's close, and its reconnect is refused, not cut.
    it("lose no request through a SIGTERM", { timeout: 30_000 }, async () => {
      const f = await start(runtime, { timeout: 10_000 });
      const load = backToBack(f.port, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 16);
      try {
        await load.answered(200);
        f.signal("SIGTERM");
        assert.equal((await f.exit(10_000)).code, 0);
      } finally {
        await load.stop();
      }
      assert.equal(load.seen.lost, 0, JSON.stringify(load.seen));
    });
  });
}

// Deno speaks HTTP/2 over TLS by itself (the other runtimes' HTTP/2 is in node-http2.test.ts).
for (const runtime of selectedRuntimes().filter((r) => r.name === "deno")) {
  describe(`node:http2 against ${runtime.name} over TLS`, () => {
    it("streams answered in the drain's hold reach the client, none cancelled at the shutdown", { timeout: 30_000 }, async (t) => {
      const tls = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url), "utf8");
      const f = await start(runtime, { timeout: 10_000, cert: tls("localhost.crt"), key: tls("localhost.key") });
      const session = http2.connect(`https://127.0.0.1:${f.port}`, { rejectUnauthorized: false });
      session.on("error", () => {});
      try {
        // An answer just before the signal: the hold then lasts at least REQUEST_GRACE_MS (100 ms),
        // and the burst below comes into it (held there, its answers went after the GOAWAY).
        assert.deepEqual(await h2Streams(session, "/", 1), ["200"]);
        f.signal("SIGTERM");
        await f.waitFor((l) => l.event === "drain.start", 5_000, "the drain to start");
        const ends = await h2Streams(session, "/", 20);
        t.diagnostic(`deno h2 burst in the hold: ${JSON.stringify(ends)}`);
        // A stream that crossed the GOAWAY is refused (7): nothing was processed, the client retries
        // it. One cancelled (8) was accepted, and its answer never came.
        const lost = ends.filter((end) => end !== "200" && end !== `reset ${http2.constants.NGHTTP2_REFUSED_STREAM}`);
        assert.deepEqual(lost, [], `the streams ended ${JSON.stringify(ends)}`);
        assert.equal((await f.exit(10_000)).code, 0);
      } finally {
        session.destroy();
      }
    });
  });
}
