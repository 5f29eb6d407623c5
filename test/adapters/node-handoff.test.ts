/**
 * Node's handoff (adapters/node-handoff.ts) over real sockets: a primary per test
 * (test/fixtures/handoff-primary.ts, wired as serveGracefully's) hands the connections it accepts
 * to its workers (handoff-worker.ts), which answer with their pid. Stalls are a worker's event loop
 * held busy, so that connections queue in its channel.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { it } from "node:test";
import { primaryLost, primaryTakes } from "../../adapters/node-handoff.ts";
import { get, getMany, HandoffPrimary, type Outcome, tally, TEST_WAITING_MAX as WAITING_MAX } from "../support/handoff.ts";
import { selectedRuntimes } from "../support/harness.ts";

/** Runs `test` with a primary of its own, ended after it whatever happens. */
async function withPrimary(test: (primary: HandoffPrimary) => Promise<void>): Promise<void> {
  const primary = new HandoffPrimary();
  try {
    await test(primary);
  } finally {
    await primary.end();
  }
}

/** Two workers listening on one port (asked for 0). */
async function twoListening(primary: HandoffPrimary) {
  const [a, b] = await Promise.all([primary.spawn(0), primary.spawn(1)]);
  const listening = await Promise.all([a.listen(1, 0), b.listen(1, 0)]);
  assert.deepEqual(listening.map((m) => m.t), ["listening", "listening"]);
  assert.equal(listening[0]!.port, listening[1]!.port, "workers asking for port 0 share one");
  return { a, b, port: listening[0]!.port as number };
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const answersBy = (outcomes: Outcome[], pid: number) => outcomes.filter((o) => "answer" in o && o.answer === String(pid)).length;

if (selectedRuntimes().some((r) => r.name === "node")) {
  it("hands each connection to one of two workers in turn, and each is answered", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      const outcomes = await getMany(port, 20, 0);
      const counts = tally(outcomes);
      assert.equal(answersBy(outcomes, a.pid) + answersBy(outcomes, b.pid), 20, JSON.stringify(counts));
      assert.ok(answersBy(outcomes, a.pid) >= 5 && answersBy(outcomes, b.pid) >= 5, JSON.stringify(counts));
    });
  });

  it("a worker's stop resolves only after every connection handed to it, and those are served", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      // Both stalled: what the primary hands them queues in their channels. `a` asks to stop with its queue unread.
      b.send({ t: "steps", steps: [{ busy: 1_500 }] });
      a.send({ t: "steps", steps: [{ busy: 1_000 }, { stop: 1 }] });
      await Promise.all([a.next("busy"), b.next("busy")]);
      const outcomes = await getMany(port, 12, 0);
      const { taken } = await a.next("stopped", 1);
      const counts = tally(outcomes);
      assert.equal(answersBy(outcomes, a.pid) + answersBy(outcomes, b.pid), 12, JSON.stringify(counts));
      assert.ok(answersBy(outcomes, a.pid) >= 2, `connections queued for the stopping worker: ${JSON.stringify(counts)}`);
      assert.equal(
        taken,
        answersBy(outcomes, a.pid),
        `handed to it when its stop resolved, against served by it: ${JSON.stringify(counts)}`,
      );
    });
  });

  it("the last worker's stop closes the listener: later connections are refused, not reset or left", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      await b.stop(1);
      const before = await getMany(port, 4, 0);
      assert.equal(answersBy(before, a.pid), 4, `after one stop, the other serves: ${JSON.stringify(tally(before))}`);
      await a.stop(1);
      assert.deepEqual(await get(port, "/", 5_000), { error: "ECONNREFUSED" });
    });
  });

  it("the primary's listen error reaches the worker's listen with its code (EADDRINUSE); a later listen tries again", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await withPrimary(async (primary) => {
        const [a, b] = await Promise.all([primary.spawn(0), primary.spawn(1)]);
        const failed = await a.listen(1, port);
        assert.equal(failed.t, "failed", JSON.stringify(failed));
        assert.equal(failed.code, "EADDRINUSE", JSON.stringify(failed));
        await new Promise<void>((resolve) => taken.close(() => resolve()));
        const listening = await b.listen(1, port);
        assert.deepEqual([listening.t, listening.port], ["listening", port], JSON.stringify(listening));
        const outcomes = await getMany(port, 2, 0);
        assert.equal(answersBy(outcomes, b.pid), 2, JSON.stringify(tally(outcomes)));
      });
    } finally {
      taken.close();
    }
  });

  it("a worker killed with connections queued for it: the other worker serves them, and the one written to its channel is closed, not left waiting", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      b.send({ t: "steps", steps: [{ busy: 1_500 }] });
      a.send({ t: "steps", steps: [{ busy: 1_000 }, { die: true }] });
      await Promise.all([a.next("busy"), b.next("busy")]);
      // None given up: the one written to the dead worker's channel must end too (it waited for the primary's exit).
      const outcomes = await getMany(port, 12, 0, 8_000);
      const counts = tally(outcomes);
      assert.ok(answersBy(outcomes, b.pid) >= 11, JSON.stringify(counts));
      assert.equal(answersBy(outcomes, a.pid), 0, JSON.stringify(counts));
      assert.equal(counts["no answer"], undefined, JSON.stringify(counts));
    });
  });

  it("a worker killed after it asked to stop, with connections queued for it: the other worker serves them", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      b.send({ t: "steps", steps: [{ busy: 1_500 }] });
      // Its stop reaches the primary with its queue unread; it dies before reading it (a reload's old worker, stalled, at its deadline).
      a.send({ t: "steps", steps: [{ busy: 1_000 }, { stop: 1 }, { busy: 200 }, { die: true }] });
      await Promise.all([a.next("busy"), b.next("busy")]);
      const outcomes = await getMany(port, 12, 1);
      const counts = tally(outcomes);
      assert.ok(answersBy(outcomes, b.pid) >= 11, JSON.stringify(counts));
      assert.equal(answersBy(outcomes, a.pid), 0, JSON.stringify(counts));
    });
  });

  it("a reload's old worker still drains and the only worker serving crashes: the listener stays open for the restart", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      await a.stop(1); // stopped, alive: draining
      b.kill();
      await b.next("exit");
      const waiting = get(port, "/", 10_000); // accepted, kept until a worker takes it
      const c = await primary.spawn(2);
      const listening = await c.listen(1, 0);
      assert.equal(listening.port, port, "the restart asking for port 0 joins the same listener");
      assert.deepEqual(await waiting, { answer: String(c.pid) });
    });
  });

  it("in a drain of the whole service, the last serving worker's crash closes the listener: later connections are refused", async () => {
    await withPrimary(async (primary) => {
      const { a, b, port } = await twoListening(primary);
      primary.send({ serviceDraining: true });
      await a.stop(1);
      b.kill();
      await b.next("exit");
      assert.deepEqual(await get(port, "/", 5_000), { error: "ECONNREFUSED" });
    });
  });

  it(`while no worker takes them, ${WAITING_MAX} connections wait (more are closed) and a restarted worker on port 0 gets them`, async () => {
    await withPrimary(async (primary) => {
      const a = await primary.spawn(0);
      const { port } = await a.listen(1, 0);
      a.kill(); // a crash, not a stop: the listener stays open for the restart
      await a.next("exit");
      const extra = 5;
      let closed = 0;
      let allClosed = () => {};
      const overflow = new Promise<void>((resolve) => (allClosed = resolve));
      const pending = Array.from({ length: WAITING_MAX + extra }, () =>
        get(port as number, "/", 15_000).then((outcome) => {
          if ("error" in outcome && ++closed === extra) allClosed();
          return outcome;
        }));
      await within(overflow, 10_000, `${extra} connections beyond ${WAITING_MAX} closed (${closed} were)`);
      const b = await primary.spawn(1);
      const listening = await b.listen(1, 0);
      assert.equal(listening.port, port, "a worker asking for port 0 again joins the listener");
      const outcomes = await Promise.all(pending);
      assert.equal(answersBy(outcomes, b.pid), WAITING_MAX, JSON.stringify(tally(outcomes)));
    });
  });

  it("a worker that exits before the listener it asked for is up takes no connection", async () => {
    // In this process: the primary's functions with stand-in workers that record what they are sent.
    const taker = () => {
      const sent: { sg: string; port?: number }[] = [];
      const send = (message: { sg: string }, socket?: net.Socket, callback?: (error: Error | null) => void) => {
        sent.push(message);
        socket?.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        callback?.(null);
      };
      return { sent, send };
    };
    const createServer = () => net.createServer({ pauseOnConnect: true });
    const key = "127.0.0.1|0|in-process";
    const [dead, live] = [taker(), taker()];
    primaryTakes(dead, { sg: "handoff.listen", key, hostname: "127.0.0.1", port: 0 }, createServer);
    primaryLost(dead); // before the listener is up
    primaryTakes(live, { sg: "handoff.listen", key, hostname: "127.0.0.1", port: 0 }, createServer);
    const until = performance.now() + 5_000;
    while (!live.sent.some((m) => m.sg === "handoff.listening") && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    const port = live.sent.find((m) => m.sg === "handoff.listening")?.port;
    assert.ok(port !== undefined, JSON.stringify(live.sent));
    try {
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => get(port, "/", 5_000)));
      assert.deepEqual(dead.sent, [], "nothing for the worker that exited");
      assert.equal(live.sent.filter((m) => m.sg === "handoff.conn").length, 4, JSON.stringify(outcomes));
    } finally {
      primaryTakes(live, { sg: "handoff.stop", key }, createServer); // the last stop closes the listener
    }
  });

  it("connections given back move two at a time, and a new connection goes ahead of the rest", async () => {
    // A reload that moves a thousand idle connections kept a balancer's health check (a new
    // connection) waiting behind them: HAProxy's 100 ms check timed out and took the instance down.
    const sent: { port: number | undefined; kept: boolean }[] = [];
    const acks: (() => void)[] = [];
    const live = {
      send(message: { sg: string; port?: number; kept?: true }, socket?: net.Socket, callback?: (error: Error | null) => void) {
        if (message.sg === "handoff.listening") sent.push({ port: message.port, kept: false });
        if (message.sg !== "handoff.conn") return callback?.(null);
        sent.push({ port: socket?.remotePort, kept: message.kept === true });
        socket?.destroy();
        acks.push(() => callback?.(null)); // the worker's acknowledgement, when the test says
      },
    };
    const createServer = () => net.createServer({ pauseOnConnect: true });
    const key = "127.0.0.1|0|moving";
    primaryTakes(live, { sg: "handoff.listen", key, hostname: "127.0.0.1", port: 0 }, createServer);
    const until = performance.now() + 5_000;
    while (sent.length === 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    const port = sent.shift()!.port!;
    // Twenty idle connections of a stopping worker (here: accepted by a server of the test's own).
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const accepted: net.Socket[] = [];
    holder.on("connection", (socket) => accepted.push(socket));
    const clients = Array.from({ length: 20 }, () => net.connect((holder.address() as net.AddressInfo).port, "127.0.0.1"));
    while (accepted.length < 20 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    const stopping = { send: (_m: unknown, _s?: net.Socket, callback?: (error: Error | null) => void) => callback?.(null) };
    try {
      for (const socket of accepted) primaryTakes(stopping, { sg: "handoff.back", key }, createServer, socket);
      assert.equal(sent.length, 2, "two on their way, the rest wait in the primary");
      const fresh = net.connect(port, "127.0.0.1");
      await new Promise((resolve) => fresh.once("connect", resolve));
      while (sent.length < 3 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(sent[2], { port: fresh.localPort, kept: false }, "the new connection went third");
      // As the worker acknowledges, the rest follow.
      while (sent.length < 21 && performance.now() < until) {
        acks.splice(0).forEach((ack) => ack());
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(sent.filter((s) => s.kept).length, 20, JSON.stringify(sent));
      fresh.destroy();
    } finally {
      clients.forEach((c) => c.destroy());
      holder.close();
      primaryTakes(live, { sg: "handoff.stop", key }, createServer);
    }
  });
}
