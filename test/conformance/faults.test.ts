/**
 * The fault matrix, from the outside, on Node, Bun and Deno: signals at odd moments, bad addresses,
 * work still running at the deadline, clients that misbehave, and leaks across many cycles.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { Connection, request } from "../support/client.ts";
import { Fixture, selectedRuntimes } from "../support/harness.ts";

const SERVER = "test/fixtures/server.ts";
const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));
const track = (f: Fixture) => (started.push(f), f);

for (const runtime of selectedRuntimes()) {
  describe(`faults on ${runtime.name}`, { concurrency: false }, () => {
    it("a signal before the server listens: nothing listens, exit 0", async () => {
      const f = track(new Fixture(runtime, SERVER, { warmupMs: 1_500 }));
      await f.waitFor((l) => l.fixture === "warmup.start", 15_000, "the warmup to start");
      f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.ok(!f.log("listening"), "the server never listened");
      const parts = f.report()!.parts as { name: string; outcome: string }[];
      assert.equal(parts.find((p) => p.name.startsWith("server"))!.outcome, "skipped");
    });

    it("ten identical signals in 10 ms are one drain", async () => {
      const f = track(await Fixture.start(runtime, SERVER));
      const slow = request(f.port, "GET", "/slow?ms=600");
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the slow request");
      for (let i = 0; i < 10; i++) f.signal("SIGTERM");
      const res = await slow;
      assert.equal(res.status, 200);
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.equal(f.lines.filter((l) => l.event === "drain.start").length, 1);
      assert.ok(!f.log("drain.forced"));
    });

    it("a hostname that cannot be bound: one line naming it, exit 1", async () => {
      const f = track(new Fixture(runtime, SERVER, { hostname: "203.0.113.1" }));
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 1);
      const failed = f.log("start.failed");
      assert.ok(failed);
      assert.match(String(failed.msg), /203\.0\.113\.1/);
    });

    it("a task still running at the deadline is cut and counted, exit 1", async () => {
      const f = track(await Fixture.start(runtime, SERVER, { timeout: 1_000 }));
      assert.equal((await request(f.port, "POST", "/write?id=late&ms=30000")).status, 202);
      f.signal("SIGTERM");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 1);
      assert.equal((f.report()!.tasks as { cut: number }).cut, 1);
    });

    it("a handler that throws during the drain gets a 500 with Connection: close; the drain stays clean", async () => {
      const f = track(await Fixture.start(runtime, SERVER, { drainDelay: 800 }));
      const kept = await Connection.open(f.port);
      await kept.request("GET", "/");
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain");
      const res = await kept.request("GET", "/throw");
      assert.equal(res.status, 500);
      assert.equal(res.headers.connection, "close");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
    });

    it("misbehaving clients never hold the process past the deadline; good ones are served", async () => {
      const f = track(await Fixture.start(runtime, SERVER, { timeout: 2_000 }));
      const connect = () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ port: f.port, host: "127.0.0.1" }, () => resolve(socket));
          socket.once("error", reject);
        });
      const [silent, half, slowReader] = await Promise.all([connect(), connect(), connect()]);
      for (const s of [silent, half, slowReader]) s.on("error", () => {});
      half.write("GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"); // never finishes its headers
      slowReader.write("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      slowReader.pause(); // reads nothing: the 8 MiB response backs up
      await f.waitFor((l) => l.fixture === "app.request" && l.path === "/big", 5_000, "the slow reader's request");
      const good = request(f.port, "GET", "/slow?ms=400");
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the good request");
      const sent = f.signal("SIGTERM");
      const res = await good;
      assert.equal(res.status, 200, "the well-behaved client is served");
      const exit = await f.exit(6_000);
      assert.ok(exit.at - sent < 4_500, `exited ${Math.round(exit.at - sent)} ms after the signal (deadline 2000)`);
      for (const s of [silent, half, slowReader]) s.destroy();
    });

    it("a hundred serve/shutdown cycles leave no listener, timer or socket behind", async () => {
      const f = track(new Fixture(runtime, "test/fixtures/cycles.ts"));
      const done = await f.waitFor((l) => l.fixture === "cycles.done", 60_000, "100 cycles");
      assert.equal(done.after, done.baseline, "signal and error listeners back to baseline");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0, "the process ends on its own");
    });
  });
}
