/**
 * The black-box conformance suite: the same fixture and the same assertions on Node, Bun and Deno,
 * real sockets on port 0, real signals. What a client and an orchestrator would see.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Connection, exchange, refused, request } from "../support/client.ts";
import { Fixture, fixtureStarter, selectedRuntimes } from "../support/harness.ts";
import { nextRequestAfterTheSignal } from "../support/next-request.ts";

const SERVER = "test/fixtures/server.ts";
const start = fixtureStarter(SERVER);

for (const runtime of selectedRuntimes()) {
  describe(`conformance on ${runtime.name}`, { concurrency: false }, () => {
    it("finishes the in-flight request, then exits 0 at once", async () => {
      const f = await start(runtime);
      const connection = await Connection.open(f.port);
      const response = connection.request("GET", "/slow?ms=800");
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the slow request to start");
      f.signal("SIGTERM");
      const res = await response;
      assert.equal(res.status, 200);
      assert.equal(res.body, "slept 800");
      assert.equal(res.headers.connection, "close", "a response during the drain closes its connection");
      await connection.closed(2_000);
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      // At once, not after a keep-alive time (5 s bare, 75 s ours); generous for a busy machine.
      assert.ok(exit.at - res.at < 2_000, `exited ${Math.round(exit.at - res.at)} ms after the last response`);
      const report = f.report()!;
      assert.deepEqual(report.requests, { inFlightAtStart: 1, served: 1, cut: 0 });
      assert.equal(report.exitCode, 0);
      assert.ok(f.log("drain.start") && f.log("drain.end"), "one log line at the start and one at the end");
    });

    it("does not let an idle keep-alive client hold the exit", async () => {
      const f = await start(runtime);
      const idle = await Connection.open(f.port);
      const first = await idle.request("GET", "/");
      assert.notEqual(first.headers.connection, "close", "keep-alive before the signal");
      const sent = f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.ok(exit.at - sent < 2_500, `idle client held the exit ${Math.round(exit.at - sent)} ms`);
      await idle.closed(1_000);
      assert.equal(idle.error, undefined, "the idle connection ends cleanly, not with a reset");
    });

    // Node keeps such a connection for its next request; Bun's stop() and Deno's shutdown() close
    // every idle connection with the listener, so there the hold lasts as long after the last answer
    // (before: the connection closed 15-48 ms after the signal, and the request was reset).
    it("answers a kept-alive client that sends its next request a moment after the signal", async (t) => {
      // A busy client stalled by a loaded machine between an answer and its next request: the
      // connection was answered a moment ago, so it is kept for that request, not left to the exit.
      const f = await start(runtime);
      await nextRequestAfterTheSignal(t, f, await Connection.open(f.port));
      assert.equal((await f.exit(5_000)).code, 0);
    });

    it("rotates kept-alive connections and fails readiness during the drain delay", async () => {
      const f = await start(runtime, { drainDelay: 1_000 });
      assert.equal((await request(f.port, "GET", "/readyz")).status, 200);
      assert.equal((await request(f.port, "GET", "/livez")).status, 200);
      const kept = await Connection.open(f.port);
      await kept.request("GET", "/");
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      const during = await kept.request("GET", "/");
      assert.equal(during.status, 200, "a request on a kept-alive socket during the drain is served");
      assert.equal(during.headers.connection, "close");
      assert.equal((await request(f.port, "GET", "/readyz")).status, 503);
      assert.equal((await request(f.port, "GET", "/livez")).status, 200);
      await kept.closed(3_000);
      assert.equal(kept.error, undefined, "closed cleanly, not reset");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.equal(await refused(f.port), true, "no new connection once the delay is over");
      const appPaths = f.lines.filter((l) => l.fixture === "app.request").map((l) => l.path);
      assert.ok(!appPaths.includes("/readyz") && !appPaths.includes("/livez"), "health probes never reach the app");
    });

    it("counts an answer served once its declared length is out, though the app's stream ends later and the client has closed", async () => {
      // serveStatic on Node (a file stream with Content-Length): the client, told to close, had every
      // byte and closed before the stream's last read said done, and the answer was counted cut
      // (exit 1 from a clean drain; an outside probe: served 34, cut 26).
      const f = await start(runtime, { drainDelay: 1_000 });
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      for (let i = 0; i < 3; i++) {
        const answer = await request(f.port, "GET", "/length-then-late-end?ms=300");
        assert.equal(`${answer.status} ${answer.body.length}`, "200 1000");
      }
      const exit = await f.exit(8_000);
      const end = f.log("drain.end")!;
      assert.deepEqual(end.requests, { inFlightAtStart: 0, served: 3, cut: 0 }, JSON.stringify(end));
      assert.equal(exit.code, 0);
    });

    it("ends a drain under a steady stream of uploads once those begun before it are answered", async () => {
      // Clients that POST on a new connection each time, 40 ms handlers overlapping: Deno's close
      // waits for handlers reading a body, and once waited until none ran at all, which under
      // such a stream came late or never (forced at the deadline, exit 1).
      const f = await start(runtime, { timeout: 8_000 });
      const upload = `POST /upload?ms=40 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n${"x".repeat(100)}`;
      let exited = false;
      let answered = 0;
      const until = performance.now() + 15_000;
      const loops = Array.from({ length: 16 }, async () => {
        while (!exited && performance.now() < until) {
          const got = await exchange(f.port, upload, 10_000).catch(() => undefined);
          if (got?.status === 200) answered++;
          else await sleep(5); // refused: the listener has closed
        }
      });
      const deadline = performance.now() + 10_000;
      while (answered < 100 && performance.now() < deadline) await sleep(10);
      assert.ok(answered >= 100, `answered before the signal: ${answered}`);
      const signalledAt = performance.now();
      f.signal("SIGTERM");
      const exit = await f.exit(12_000);
      exited = true;
      await Promise.all(loops);
      assert.equal(exit.code, 0, JSON.stringify(f.report()));
      assert.equal(f.report()!.forced, false);
      assert.ok(exit.at - signalledAt < 4_000, `exited ${Math.round(exit.at - signalledAt)} ms after the signal`);
    });

    it("waits for every waitUntil task, and survives one that rejects", async () => {
      const f = await start(runtime);
      const accepted = await request(f.port, "POST", "/write?id=a&ms=700");
      assert.equal(accepted.status, 202);
      assert.equal((await request(f.port, "POST", "/reject")).status, 202);
      f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      const done = f.lines.find((l) => l.fixture === "write.done");
      assert.ok(done, "the acknowledged write finished before exit");
      assert.ok(done.at <= exit.at);
      assert.equal(exit.code, 0);
      assert.ok(f.log("task.failed"), "the rejected task is logged");
      const report = f.report()!;
      assert.equal((report.tasks as { failed: number }).failed + (report.tasks as { completed: number }).completed >= 1, true);
    });

    it("cuts a stream that ignores shutdown at the deadline and exits 1", async () => {
      const f = await start(runtime, { timeout: 1_500 });
      const stream = await Connection.open(f.port);
      stream.socket.write("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      await f.waitFor((l) => l.fixture === "app.request" && l.path === "/sse", 5_000, "the stream to open");
      const sent = f.signal("SIGTERM");
      const exit = await f.exit(6_000);
      assert.equal(exit.code, 1);
      const elapsed = exit.at - sent;
      assert.ok(elapsed >= 1_300 && elapsed < 4_500, `exited ${Math.round(elapsed)} ms after the signal (timeout 1500)`);
      const report = f.report()!;
      assert.equal(report.forced, true);
      assert.equal(report.forcedBy, "deadline");
      await stream.closed(1_000);
    });

    it("cuts a hung handler at the deadline and counts it", async () => {
      const f = await start(runtime, { timeout: 1_000 });
      void request(f.port, "GET", "/slow?ms=20000").catch(() => {});
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the slow request to start");
      f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 1);
      assert.equal((f.report()!.requests as { cut: number }).cut, 1);
    });

    it("stops at once on a second signal, but counts a repeated one as one", async () => {
      const f = await start(runtime);
      void request(f.port, "GET", "/slow?ms=20000").catch(() => {});
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the slow request to start");
      f.signal("SIGINT");
      f.signal("SIGINT"); // npm and the terminal both pass on one Ctrl+C
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      // Time itself is the subject here: a signal after the 250 ms repeat window is a second one.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(f.child.exitCode, null, "a repeated signal does not force");
      const sent = f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 1);
      // At once, not when the 20 s handler ends; generous for a busy machine.
      assert.ok(exit.at - sent < 2_500, `second signal took ${Math.round(exit.at - sent)} ms`);
      assert.equal(f.report()!.forcedBy, "second-signal");
      assert.equal(f.log("drain.forced")!.signal, "SIGTERM", "the line names the second signal");
      assert.equal((f.report()!.parts as { outcome: string }[])[0]!.outcome, "cut", "not a timeout: the signal cut it");
    });

    it("exits 1 with one line naming the port when the port is in use", async () => {
      const holder = await start(runtime, { signals: false });
      const f = new Fixture(runtime, SERVER, { port: holder.port });
      start.track(f);
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 1);
      const failed = f.lines.find((l) => l.event === "start.failed");
      assert.ok(failed, "a start.failed line");
      assert.match(String(failed.msg), new RegExp(`port ${holder.port} is already in use`));
      assert.deepEqual(f.lines.filter((l) => l.event !== undefined).map((l) => l.event), ["start.failed"], "that one line only");
      await holder.child.kill("SIGKILL");
    });

    it("rejects ready when the port is in use and signals are off", async () => {
      const holder = await start(runtime, { signals: false });
      const f = new Fixture(runtime, SERVER, { port: holder.port, signals: false });
      start.track(f);
      const line = await f.waitFor((l) => l.fixture === "ready.rejected", 10_000, "ready to reject");
      assert.equal(line.name, "ListenError");
      assert.match(String(line.message), /already in use/);
      f.kill();
      holder.kill();
    });

    it("applies Kubernetes defaults when it runs under Kubernetes, and says so at startup", async () => {
      const f = await Fixture.start(runtime, SERVER, {}, { KUBERNETES_SERVICE_HOST: "10.96.0.1" });
      start.track(f);
      const line = f.log("listening")!;
      assert.equal(line.platform, "kubernetes");
      assert.equal(line.drainDelayMs, 5_000);
      assert.match(String(line.defaults), /kubernetes/);
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      assert.equal((await request(f.port, "GET", "/readyz")).status, 503, "serving, but not ready, during the delay");
      f.kill();
    });

    it("throws a TypeError naming a bad option", async () => {
      const f = new Fixture(runtime, SERVER, { timeout: -5 });
      start.track(f);
      const exit = await f.exit(10_000);
      assert.notEqual(exit.code, 0);
      assert.match(f.stderr.join(""), /TypeError: serveGracefully: "timeout" must be a positive number of ms, got -5/);
    });
  });
}
