/**
 * One process, many parts, on Node, Bun and Deno: start order, one drain for every server, stops in
 * reverse after the drain, rollback of a failed start, a hanging stop, streams that watch the drain.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Connection } from "../support/client.ts";
import { Fixture, type Line, selectedRuntimes } from "../support/harness.ts";

const MULTI = "test/fixtures/multi.ts";
const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

async function startMulti(runtime: Parameters<typeof Fixture.start>[0], env: Record<string, string> = {}, options = {}) {
  const fixture = new Fixture(runtime, MULTI, options, env);
  started.push(fixture);
  return fixture;
}

const order = (f: Fixture, match: (l: Line) => boolean): number => f.lines.findIndex(match);
const portOf = (f: Fixture, name: string): number =>
  f.lines.find((l) => l.fixture === "server.listening" && l.name === name)!.port as number;

for (const runtime of selectedRuntimes()) {
  describe(`lifecycle on ${runtime.name}`, { concurrency: false }, () => {
    it("starts in order, drains both servers together, stops in reverse after the drain", async () => {
      const f = await startMulti(runtime);
      await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      // The library's own "listening" line is printed the moment a server listens.
      const starts = f.lines.filter((l) => l.fixture === "part.start" || l.event === "listening").map((l) => l.fixture ? l.name : l.part);
      assert.deepEqual(starts, ["db", "api", "queue", "metrics"]);

      const apiConn = await Connection.open(portOf(f, "api"));
      const metricsConn = await Connection.open(portOf(f, "metrics"));
      const sse = await Connection.open(portOf(f, "api"));
      sse.socket.write("GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      const apiRes = apiConn.request("GET", "/slow?ms=600");
      const metricsRes = metricsConn.request("GET", "/slow?ms=600");
      await f.waitFor(
        (l) => f.lines.filter((x) => x.fixture === "slow.start").length === 2 && l.fixture === "slow.start",
        5_000,
        "both slow requests",
      );
      const sent = f.signal("SIGTERM");
      const [a, m] = await Promise.all([apiRes, metricsRes]);
      assert.equal(a.body, "api done");
      assert.equal(m.body, "metrics done");
      const closedAt = await sse.closed(3_000);
      assert.equal(sse.error, undefined, "the SSE client sees a clean end, not a reset");
      assert.ok(closedAt - sent < 2_500, "the cooperating stream ended at the drain, not the deadline (25 s)");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.ok(exit.at - sent < 3_000, `exit ${Math.round(exit.at - sent)} ms after the signal`);
      const stops = f.lines.filter((l) => l.fixture === "part.stop").map((l) => l.name);
      assert.deepEqual(stops, ["queue", "db"], "stops in reverse registration order");
      const firstStop = f.lines.find((l) => l.fixture === "part.stop")!;
      assert.ok(firstStop.at >= Math.max(a.at, m.at) - 50, "parts stop after the servers drained");
      const report = f.report()!;
      assert.deepEqual((report.parts as { name: string; outcome: string }[]).map((p) => `${p.name}:${p.outcome}`), [
        "api:stopped",
        "metrics:stopped",
        "queue:stopped",
        "db:stopped",
      ]);
      assert.equal(f.lines.filter((l) => l.event === "drain.start").length, 1, "one drain for the process");
    });

    it("rolls back a failed start in reverse, starts nothing after it, exits 1", async () => {
      const f = await startMulti(runtime, { SG_FAIL_START: "queue" });
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 1);
      const failed = f.lines.find((l) => l.event === "start.failed");
      assert.ok(failed && /queue could not connect/.test(String(failed.msg)), "the error is shown");
      assert.deepEqual(f.lines.filter((l) => l.fixture === "part.start").map((l) => l.name), ["db", "queue"]);
      assert.ok(!f.lines.some((l) => l.fixture === "server.listening" && l.name === "metrics"), "metrics never started");
      assert.deepEqual(f.lines.filter((l) => l.fixture === "part.stop").map((l) => l.name), ["db"], "only what started is stopped");
      assert.ok(order(f, (l) => l.fixture === "ready.rejected" && l.name === "metrics") >= 0, "metrics' ready rejects");
    });

    it("reports a hanging stop and still runs the others", async () => {
      const f = await startMulti(runtime, { SG_HANG_STOP: "queue" });
      await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 1);
      const parts = f.report()!.parts as { name: string; outcome: string }[];
      assert.equal(parts.find((p) => p.name === "queue")!.outcome, "timeout");
      assert.equal(parts.find((p) => p.name === "db")!.outcome, "stopped");
    });

    it("drains gracefully on an uncaught exception and exits 1", async () => {
      const f = await startMulti(runtime);
      await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      const c = await Connection.open(portOf(f, "api"));
      await c.request("GET", "/crash");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 1);
      assert.ok(f.log("uncaughtException"), "the error is logged");
      assert.deepEqual(f.lines.filter((l) => l.fixture === "part.stop").map((l) => l.name), ["queue", "db"]);
      assert.equal(f.report()!.reason, "error");
    });

    it("two lifecycles (the process's and a createLifecycle()) drain on one SIGTERM and the process ends after the slower", async () => {
      const f = new Fixture(runtime, "test/fixtures/two-lifecycles.ts");
      started.push(f);
      const up = await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      const [api, admin] = [await Connection.open(up.api as number), await Connection.open(up.admin as number)];
      const fast = api.request("GET", "/slow?ms=300");
      const slow = admin.request("GET", "/slow?ms=1500");
      await f.waitFor(() => f.lines.filter((l) => l.fixture === "slow.start").length === 2, 10_000, "both requests to start");
      f.signal("SIGTERM");
      // Before: the process ended when the faster drain did, the slow request reset, queue never stopped.
      assert.equal((await fast).status, 200);
      assert.equal((await slow).status, 200);
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 0);
      assert.equal(f.lines.filter((l) => l.event === "drain.end").length, 2, "each lifecycle's report");
      assert.ok(f.lines.some((l) => l.fixture === "queue.stopped"), "the other lifecycle's part stopped");
      assert.ok(f.lines.some((l) => l.fixture === "db.stopped"));
    });

    it("an uncaught exception during a signal's drain makes the exit 1", async () => {
      const f = await startMulti(runtime, { SG_THROW_IN_STOP: "queue" });
      await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      f.signal("SIGTERM");
      const exit = await f.exit(10_000);
      // It was exit 0, the crash only in the report's errors.
      assert.equal(exit.code, 1);
      assert.ok(f.log("uncaughtException"), "the error is logged");
      const report = f.report()!;
      assert.equal(report.exitCode, 1);
      assert.ok((report.errors as string[]).some((e) => e.includes("queue's stop left this behind")), JSON.stringify(report.errors));
      assert.deepEqual(f.lines.filter((l) => l.fixture === "part.stop").map((l) => l.name), ["queue", "db"], "the other stops still ran");
    });

    it("drains at once on an unhandled rejection, the wait for a request in flight inside the drain", async () => {
      const f = await startMulti(runtime);
      await f.waitFor((l) => l.fixture === "listening", 15_000, "both servers to listen");
      const slow = await Connection.open(portOf(f, "api"));
      const answer = slow.request("GET", "/slow?ms=1500");
      await f.waitFor((l) => l.fixture === "slow.start", 10_000, "the slow request to start");
      const c = await Connection.open(portOf(f, "api"));
      await c.request("GET", "/reject?ms=100");
      assert.equal((await answer).status, 200);
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 1);
      assert.ok(f.log("unhandledRejection"), "the rejection is logged");
      const report = f.report()!;
      // Bun ran the drain's next step only when the request's own timer fired: drainMs 6 of 620 ms.
      // Ratios, not times: a busy machine stretches both alike.
      const { durationMs, drainMs } = report as { durationMs: number; drainMs: number };
      assert.ok(drainMs >= durationMs * 0.5, `the request was waited for in the drain: drainMs ${drainMs} of ${durationMs}`);
    });
  });
}
