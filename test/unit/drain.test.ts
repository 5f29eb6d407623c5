/** The drain algorithm on a fake runtime and an injected clock: order, deadlines, signals, exit. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CATCH_UP_MAX_MS, HOLD_MAX_MS, QUIET_MS, waitForQuiet } from "../../src/drain/hold.ts";
import type { ServerPart } from "../../src/drain/parts.ts";
import type { Clock } from "../../src/time/clock.ts";
import type { FetchApp, LogRecord, RuntimeAdapter } from "../../src/types.ts";
import { WATCHDOG_GRACE_MS } from "../../src/drain/lifecycle.ts";
import { REQUEST_GRACE_MS } from "../../src/drain/request-grace.ts";
import { type FakeClock, type FakeRuntime, type FakeServer, fakeWorld, settle } from "./fakes.ts";

/** A fake world whose one idle server has drained on SIGTERM to its exit; its runtime's calls tell how. */
async function idleServerDrainedBySigterm(configure: Parameters<typeof fakeWorld>[0]) {
  const world = fakeWorld(configure);
  const server = world.serve({ fetch: () => new Response() }, { logger: false });
  await server.ready;
  world.runtime.signal("SIGTERM");
  await world.clock.advance(QUIET_MS);
  await server.finished;
  await settle();
  return world;
}

/** SIGTERM, then a request during the hold; returns what it got so far (undefined while held). */
async function requestInTheHold(runtime: FakeRuntime, clock: FakeClock, fake: FakeServer): Promise<() => Response | undefined> {
  runtime.signal("SIGTERM");
  await clock.advance(1);
  let answered: Response | undefined;
  void Promise.resolve(fake.fetch("/")).then((r) => (answered = r));
  await clock.advance(2 * QUIET_MS);
  assert.ok(runtime.calls.includes("close"));
  return () => answered;
}

function setup(options: Record<string, unknown> = {}) {
  const { clock, runtime, lifecycle, serve } = fakeWorld();
  const logs: LogRecord[] = [];
  let release: (() => void) | undefined;
  const app: FetchApp = {
    fetch(request, _env, ctx) {
      const path = new URL(request.url).pathname;
      if (path === "/slow") return new Promise((resolve) => (release = () => resolve(new Response("slow"))));
      if (path === "/task") {
        ctx.waitUntil(new Promise<void>((resolve) => clock.setTimer(resolve, 1_000)));
        return new Response("accepted", { status: 202 });
      }
      if (path === "/reject") {
        ctx.waitUntil(Promise.reject(new Error("disk full")));
        return new Response("accepted", { status: 202 });
      }
      if (path === "/redirect") return Response.redirect("http://example.test/", 302);
      return new Response("ok");
    },
  };
  const server = serve(app, { port: 0, logger: (r: LogRecord) => logs.push(r), ...options });
  return { clock, runtime, lifecycle, server, logs, release: () => release?.() };
}

describe("drain", () => {
  it("ExitsZeroAtOnceWhenNothingIsInFlight", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    await clock.advance(0);
    assert.deepEqual(runtime.calls, ["listen:0", "close", "closeIdle", "exit:0"]);
    assert.equal(report.exitCode, 0);
    assert.equal(report.signal, "SIGTERM");
  });

  it("ADrainThatEndsTheProcessTakesTheRuntimesExitTimersAndOneThatDoesNotKeepsTheClock", async () => {
    // Deno's exit timers cannot be cancelled, only silenced: a drain that does not end the process
    // must not leave them pending. One that ends it uses them for every wait (deadline, hold).
    const drain = async (end: "signal" | "shutdown") => {
      const { runtime, server, clock, release } = setup({ timeout: 4_000 });
      const exitTimers: number[] = [];
      runtime.exitTimer = (fn, ms) => {
        exitTimers.push(ms);
        return clock.setTimer(fn, ms);
      };
      await server.ready;
      const pending = runtime.servers[0]!.fetch("/slow") as Promise<Response>;
      if (end === "signal") runtime.signal("SIGTERM");
      else void server.shutdown();
      await clock.advance(QUIET_MS);
      release();
      await pending;
      const report = await server.finished;
      await clock.advance(0);
      return { exitTimers, exits: runtime.exitCodes, served: report.requests.served };
    };
    const signalled = await drain("signal");
    assert.deepEqual(signalled.exits, [0]);
    assert.equal(signalled.served, 1);
    assert.ok(signalled.exitTimers.includes(4_000) && signalled.exitTimers.includes(QUIET_MS), String(signalled.exitTimers));
    const called = await drain("shutdown");
    assert.deepEqual(called.exits, [], "shutdown() does not end the process");
    assert.equal(called.served, 1);
    assert.deepEqual(called.exitTimers, []);
  });

  it("FinishesInFlightRequestsWithConnectionCloseBeforeClosingIdleConnections", async () => {
    const { runtime, server, release, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]!;
    const pending = fake.fetch("/slow") as Promise<Response>;
    runtime.signal("SIGTERM");
    await clock.advance(5_000);
    assert.deepEqual(runtime.calls, ["listen:0", "close"], "idle connections stay until no handler runs");
    release();
    const response = await pending;
    assert.equal(response.headers.get("connection"), "close");
    const report = await server.finished;
    assert.deepEqual(report.requests, { inFlightAtStart: 1, served: 1, cut: 0 });
    await clock.advance(0);
    assert.deepEqual(runtime.calls.slice(2), ["closeIdle", "exit:0"]);
  });

  it("CountsAnAnswerWhoseClientLeftAsCutAndExitsOne", async () => {
    const { runtime, server, release, clock } = setup();
    await server.ready;
    const client = new AbortController();
    const pending = runtime.servers[0]!.fetch("/slow", { signal: client.signal }) as Promise<Response>;
    runtime.signal("SIGTERM");
    await clock.advance(2 * QUIET_MS);
    client.abort(); // the client went away before the handler returned
    release();
    await pending;
    const report = await server.finished;
    assert.deepEqual(report.requests, { inFlightAtStart: 1, served: 0, cut: 1 });
    assert.equal(report.forced, false);
    assert.equal(report.exitCode, 1, "a cut request makes the drain not clean");
  });

  it("WaitsForTheRuntimeToTellWhetherEachAnswerLeft", async () => {
    const tellers: ((delivered: boolean) => void)[] = [];
    const { clock, runtime, serve } = fakeWorld((r) => {
      (r as { watchDelivery?: unknown }).watchDelivery = (_res: Response, _req: Request, _env: unknown, delivered: (d: boolean) => void) =>
        tellers.push(delivered);
    });
    const server = serve({ fetch: () => new Response("ok") }, { logger: false, drainDelay: 100 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(2 * QUIET_MS);
    await runtime.servers[0]!.fetch("/a");
    await runtime.servers[0]!.fetch("/b");
    await clock.advance(200);
    assert.deepEqual(runtime.exitCodes, [], "no exit while the runtime still writes the answers");
    assert.ok(!runtime.calls.includes("closeIdle"));
    tellers[0]!(true);
    tellers[1]!(false); // its connection ended before the answer left
    const report = await server.finished;
    assert.deepEqual(report.requests, { inFlightAtStart: 0, served: 1, cut: 1 });
    assert.equal(report.exitCode, 1);
  });

  it("LeavesIdleConnectionsToTheExitWhenTheProcessEnds", async () => {
    const { clock, runtime, serve } = await idleServerDrainedBySigterm((r) => (r.tellsResponsesDone = true));
    assert.deepEqual(runtime.calls, ["listen:3000", "close", "responsesDone", "exit:0"]);
    // A shutdown() call does not end the process, so it closes idle connections itself.
    const again = serve({ fetch: () => new Response() }, { logger: false });
    await again.ready;
    runtime.calls = [];
    const report = again.shutdown();
    await clock.advance(QUIET_MS);
    await report;
    assert.deepEqual(runtime.calls, ["close", "closeIdle"]);
  });

  it("ClosesIdleConnectionsItselfWhenTheExitWaitsOnI/O", async () => {
    // A worker's exit waits for its primary's answer: a request read meanwhile on a connection left
    // open for the exit would run and be cut by it.
    const { runtime } = await idleServerDrainedBySigterm((r) => {
      r.tellsResponsesDone = true;
      r.tellsIdleForExit = true;
      r.exitPollsIo = true;
    });
    assert.deepEqual(runtime.calls, ["listen:3000", "close", "closeIdle", "exit:0"]);
  });

  it("HoldsUntilTheGraceAfterTheLastAnswerWhereTheCloseEndsIdleConnectionsAtOnce", async () => {
    // Bun's stop() and Deno's shutdown() close a connection answered a moment ago with the listener:
    // its client's next request, sent 50 ms after the signal, must come into the hold.
    for (const closesIdle of [true, false]) {
      const { clock, runtime, serve } = fakeWorld((r) => (r.closesIdleWithListener = closesIdle));
      const server = serve({ fetch: () => new Response("ok") }, { logger: false, drainDelay: 0 });
      await server.ready;
      await clock.advance(1_000);
      await runtime.servers[0]!.fetch("/"); // answered at 1,000 ms
      runtime.signal("SIGTERM");
      await clock.advance(50);
      const closedBy50 = runtime.calls.includes("close");
      const next = runtime.servers[0]!.fetch("/"); // the client's next request, 50 ms later
      for (let ms = 0; ms < HOLD_MAX_MS && !runtime.calls.includes("close"); ms++) await clock.advance(1);
      const closedAt = clock.now() - 1_000;
      if (closesIdle) {
        assert.equal(closedBy50, false, "the listener stays open through the grace");
        assert.ok(closedAt >= REQUEST_GRACE_MS, `closed ${closedAt} ms after the last answer`);
        assert.equal((await next).headers.get("connection"), "close");
      } else {
        assert.equal(closedBy50, true, `without it, quiet from the signal: ${QUIET_MS} ms`);
      }
      await server.finished;
    }
  });

  it("LeavesAnIdleServerToTheExitWhenNothingIsLeftToDo", async () => {
    const { clock, runtime, serve, lifecycle } = fakeWorld((r) => (r.tellsIdleForExit = true));
    const server = serve({ fetch: () => new Response() }, { logger: false });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    await settle();
    // Not closed: the exit closes the listener and its idle connections at once.
    assert.deepEqual(runtime.calls, ["listen:3000", "exit:0"]);
    assert.equal(report.parts[0]!.outcome, "stopped");
    // A part left to stop means time (and I/O) before the exit: the server is closed as usual.
    runtime.calls = [];
    const again = serve({ fetch: () => new Response() }, { logger: false });
    lifecycle.add({ name: "db", stop: async () => {} });
    await again.ready;
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await again.finished;
    await settle();
    assert.deepEqual(runtime.calls, ["listen:3000", "close", "closeIdle", "exit:0"]);
  });

  it("ReportsAServerCutWhenASecondSignalCameBeforeTheClose", async () => {
    const { clock, runtime, serve } = fakeWorld((r) => (r.tellsIdleForExit = true));
    const server = serve({ fetch: () => new Response() }, { logger: false, drainDelay: 1_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(2 * QUIET_MS);
    runtime.signal("SIGINT");
    const report = await server.finished;
    await settle();
    assert.equal(report.forcedBy, "second-signal");
    assert.notEqual(report.parts[0]!.outcome, "stopped", "a forced drain is not reported as a clean stop");
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("ClosesAnIdleServerAsUsualWhileWorkIsInProgress", async () => {
    const { clock, runtime, serve, lifecycle } = fakeWorld((r) => (r.tellsIdleForExit = true));
    const server = serve({ fetch: () => new Response() }, { logger: false });
    await server.ready;
    // A background task still running at the signal: the listener closes before the wait.
    lifecycle.waitUntil(new Promise<void>((resolve) => clock.setTimer(resolve, 100)));
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    assert.deepEqual(runtime.calls, ["listen:3000", "close"]);
    await clock.advance(100);
    await server.finished;
    await settle();
    assert.deepEqual(runtime.calls, ["listen:3000", "close", "closeIdle", "exit:0"]);
  });

  it("HoldsResponsesUntilQuietThenClosesTheListenerBeforeReleasingThem", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS - 1);
    // A busy keep-alive client's next request arrives just before the first quiet check.
    let answered: Response | undefined;
    void Promise.resolve(fake.fetch("/")).then((r) => (answered = r));
    await clock.advance(1);
    assert.equal(answered, undefined, "held while the listener is open");
    assert.ok(!runtime.calls.includes("close"), "the arrival restarted the quiet period");
    await clock.advance(QUIET_MS - 1);
    assert.ok(!runtime.calls.includes("close"));
    await clock.advance(1);
    assert.ok(runtime.calls.includes("close"), "listener closed once quiet");
    assert.equal((answered as Response | undefined)?.headers.get("connection"), "close", "then released, marked");
    await server.finished;
    // Its client sent nothing while its answer was held: idle connections get the grace anew.
    assert.ok(runtime.calls.includes("closeIdle:answersHeld"), runtime.calls.join(", "));
  });

  it("KeepsHoldingWhenTheQuietCheckRunsLate", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(0);
    // The event loop was busy for 20 ms: no request was seen, but some may wait unread.
    await clock.jump(QUIET_MS + 20);
    assert.ok(!runtime.calls.includes("close"), "a late check is no proof of quiet");
    await clock.advance(QUIET_MS);
    assert.ok(runtime.calls.includes("close"), "an on-time quiet check closes");
    await server.finished;
  });

  it("AnswersAtOnceDuringTheHoldARequestThatAskedToClose", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    await clock.advance(1);
    let keptAlive: Response | undefined;
    let closing: Response | undefined;
    void Promise.resolve(fake.fetch("/")).then((r) => (keptAlive = r));
    void Promise.resolve(fake.fetch("/", { headers: { connection: "Upgrade, Close" } })).then((r) => (closing = r));
    await settle();
    assert.ok(!runtime.calls.includes("close"), "still in the hold");
    assert.equal(keptAlive, undefined, "a keep-alive client's answer waits for the hold");
    assert.equal((closing as Response | undefined)?.status, 200, "a client that sends no further request is not held");
    assert.equal((closing as Response | undefined)?.headers.get("connection"), "close");
    await clock.advance(2 * QUIET_MS);
    assert.equal((keptAlive as Response | undefined)?.headers.get("connection"), "close", "then released, marked");
    const report = await server.finished;
    assert.deepEqual(report.requests, { inFlightAtStart: 0, served: 2, cut: 0 });
  });

  it("AsksTheRuntimeOnceARequestWhetherItClosesOnlyWhileDraining", async () => {
    // Reading `request.headers` copies @hono/node-server's light request: the question goes to the
    // runtime, once per request, and not at all before the drain.
    const asked: string[] = [];
    const { clock, runtime, serve } = fakeWorld((r) => {
      r.asksToClose = (request) => (asked.push(new URL(request.url).pathname), false);
    });
    const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: () => {} });
    await server.ready;
    const fake = runtime.servers[0]!;
    await fake.fetch("/before");
    assert.deepEqual(asked, [], "not asked before the drain");
    runtime.signal("SIGTERM");
    await clock.advance(1);
    const answer = Promise.resolve(fake.fetch("/during"));
    await clock.advance(2 * QUIET_MS);
    assert.equal((await answer).headers.get("connection"), "close");
    assert.deepEqual(asked, ["/during"], "asked once for the request that arrived while draining");
    await server.finished;
  });

  it("WaitsForQuietAsLongAsTheRuntimeSays", async () => {
    // A worker replaced by a reload: its clients may be stalled longer than QUIET_MS.
    const { clock, runtime, serve } = fakeWorld((r) => (r.replacement = () => ({ holdQuietMs: 50 })));
    const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: () => {} });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(30);
    void runtime.servers[0]!.fetch("/"); // a stalled client's next request, 30 ms in
    await clock.advance(69);
    assert.ok(!runtime.calls.includes("close"), "the check at 50 ms saw it: one more period");
    await clock.advance(1);
    assert.ok(runtime.calls.includes("close"), "closed after a whole 50 ms period without one");
    await server.finished;
  });

  it("AWorkerAReloadReplacesKeepsReadinessAndSkipsTheDrainDelay", async () => {
    // The service goes on (a new worker serves beside it): a balancer that saw this worker's 503
    // would take the whole instance out. Once the whole service drains, readiness fails again.
    let replacement: { holdQuietMs: number } | undefined = { holdQuietMs: 50 };
    const { clock, runtime, serve, lifecycle } = fakeWorld((r) => (r.replacement = () => replacement));
    const lines: LogRecord[] = [];
    const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: (l) => void lines.push(l), drainDelay: 2_000 });
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    await clock.advance(1);
    assert.equal(lifecycle.state, "stopping");
    const start = lines.find((l) => l.event === "drain.start")!;
    assert.equal(start.msg, "drain started (replaced by a reload)", "no SIGTERM that nobody sent");
    assert.equal(start.replaced, true);
    const ready = await fake.fetch("/readyz");
    assert.equal(ready.status, 200, "still ready: the service goes on");
    assert.equal(ready.headers.get("connection"), "close", "and the connection moves on to the new worker");
    assert.equal((await fake.fetch("/readyz?verbose")).status, 200);
    replacement = undefined; // the primary's own drain, during the reload
    assert.equal((await fake.fetch("/readyz")).status, 503, "the whole service drains now");
    await clock.advance(150); // three of its 50 ms quiet periods
    assert.ok(runtime.calls.includes("close"), "no drain delay: closed after the hold");
    assert.equal((await server.finished).drainDelayMs, 0);
  });

  it("KeepsHoldingWhenALaterQuietCheckRunsLate", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS - 1);
    // One arrival, so the first check schedules another; that one then runs 20 ms late.
    void fake.fetch("/");
    await clock.advance(1);
    assert.ok(!runtime.calls.includes("close"), "the arrival restarted the quiet period");
    await clock.jump(QUIET_MS + 20);
    assert.ok(!runtime.calls.includes("close"), "a late check is no proof of quiet, however many came before");
    await clock.advance(QUIET_MS);
    assert.ok(runtime.calls.includes("close"), "an on-time quiet check closes");
    await server.finished;
  });

  it("EndsTheHoldWhileOnlyRequestsThatAskedToCloseKeepArriving", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    // New connections, each with one request that asks to close, every millisecond: none of them
    // can send another, so they are no reason to keep the listener open.
    for (let ms = 0; ms < 2 * QUIET_MS && !runtime.calls.includes("close"); ms++) {
      void fake.fetch("/", { headers: { connection: "close" } });
      await clock.advance(1);
    }
    assert.ok(runtime.calls.includes("close"), `closed after ${QUIET_MS} ms, not held open by arrivals that close`);
    await server.finished;
  });

  it("ClosesTheListenerOneOnTimeLookAfterADrainDelayOfHoldMaxWhileArrivalsContinue", async () => {
    const { runtime, server, clock } = setup({ drainDelay: HOLD_MAX_MS });
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    let answered = 0;
    // Kept-alive arrivals every millisecond across the end of the delay.
    for (let ms = 0; ms < HOLD_MAX_MS + 2 * QUIET_MS && !runtime.calls.includes("close"); ms++) {
      void Promise.resolve(fake.fetch("/")).then(() => answered++);
      await clock.advance(1);
    }
    assert.ok(runtime.calls.includes("close"), "the delay rotated every busy client: no hold for them after it");
    assert.equal(clock.now(), HOLD_MAX_MS + QUIET_MS, "closed after one look on time, as the delay ended");
    await server.finished;
    assert.equal(answered, HOLD_MAX_MS + QUIET_MS);
  });

  it("AfterALongDrainDelayWaitsForAnEventLoopOnTimeAtMostCatchUpMax", async () => {
    // A late timer means connections may wait in the accept queue: the close would reset them.
    const { runtime, server, clock } = setup({ drainDelay: 1_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(1_000);
    await clock.jump(QUIET_MS + 20); // the look after the delay runs 20 ms late
    assert.ok(!runtime.calls.includes("close"), "a late look: not caught up");
    await clock.advance(QUIET_MS);
    assert.ok(runtime.calls.includes("close"), "the next look on time closes");
    await server.finished;

    // Late every time: closed CATCH_UP_MAX_MS after the delay at the latest.
    const late = setup({ drainDelay: 1_000 });
    await late.server.ready;
    late.runtime.signal("SIGTERM");
    await late.clock.advance(1_000);
    for (let i = 0; i < 20 && !late.runtime.calls.includes("close"); i++) await late.clock.jump(QUIET_MS + 10);
    assert.ok(late.runtime.calls.includes("close"));
    assert.ok(late.clock.now() - 1_000 <= CATCH_UP_MAX_MS + QUIET_MS + 10, `closed ${late.clock.now() - 1_000} ms after the delay`);
    await late.server.finished;
  });

  it("EndsTheHoldHoldMaxAfterAShortDrainDelayBegan", async () => {
    const { runtime, server, clock } = setup({ drainDelay: 100 });
    await server.ready;
    const fake = runtime.servers[0]!;
    runtime.signal("SIGTERM");
    for (let ms = 0; ms < 2 * HOLD_MAX_MS && !runtime.calls.includes("close"); ms++) {
      void fake.fetch("/");
      await clock.advance(1);
    }
    assert.equal(clock.now(), HOLD_MAX_MS, "held while kept-alive requests kept arriving, until HOLD_MAX_MS after the delay began");
    await server.finished;
  });

  it("TheRuntimeHearsTheAppSettleWhileItsAnswerIsStillHeld", async () => {
    // Deno's close waits for the handlers of requests with a body: for the app's, not for the hold.
    const { runtime, server, clock } = setup();
    const settled: string[] = [];
    runtime.appSettled = (request) => void settled.push(new URL(request.url).pathname);
    await server.ready;
    const fake = runtime.servers[0]! as typeof runtime.servers[0] & { stoppedAccepting?: () => Promise<void> };
    let acted!: () => void;
    fake.stoppedAccepting = () => new Promise<void>((resolve) => (acted = resolve));
    const answered = await requestInTheHold(runtime, clock, fake);
    assert.deepEqual(settled, ["/"], "told while held");
    assert.equal(answered(), undefined);
    await fake.fetch("/readyz");
    assert.deepEqual(settled, ["/", "/readyz"], "a health probe's at once: once for every request");
    acted();
    await clock.advance(0);
    assert.equal(answered()?.status, 200);
    await server.finished;
  });

  it("ReleasesHeldResponsesOnceTheRuntimeHasActedOnTheClose", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const fake = runtime.servers[0]! as typeof runtime.servers[0] & { stoppedAccepting?: () => Promise<void> };
    let acted!: () => void;
    fake.stoppedAccepting = () => new Promise<void>((resolve) => (acted = resolve));
    const answered = await requestInTheHold(runtime, clock, fake);
    assert.equal(answered(), undefined, "held until the runtime has acted on the close");
    acted();
    await clock.advance(0);
    assert.equal(answered()?.headers.get("connection"), "close");
    await server.finished;
  });

  it("AWorkerReleasesHeldResponsesOnceEveryWorkersListenersHaveClosed", async () => {
    for (const reload of [false, true]) {
      const { runtime, server, clock } = setup();
      let everywhere!: () => void;
      const asked: boolean[] = [];
      runtime.listenersClosed = (wholeService) => {
        asked.push(wholeService);
        return wholeService ? new Promise<void>((resolve) => (everywhere = resolve)) : Promise.resolve();
      };
      if (reload) runtime.replacement = () => ({ holdQuietMs: QUIET_MS });
      await server.ready;
      const answered = await requestInTheHold(runtime, clock, runtime.servers[0]!);
      if (reload) {
        // A reload's old worker: the service goes on, nothing to wait for.
        assert.deepEqual(asked, [false]);
        assert.equal(answered()?.headers.get("connection"), "close");
      } else {
        assert.deepEqual(asked, [true]);
        assert.equal(answered(), undefined, "held until every worker's listeners have closed");
        everywhere();
        await clock.advance(0);
        assert.equal(answered()?.headers.get("connection"), "close");
      }
      await server.finished;
    }
  });

  it("LeavesResponsesAloneWhileServing", async () => {
    const { runtime, server } = setup();
    await server.ready;
    const response = await runtime.servers[0]!.fetch("/");
    assert.equal(response.headers.get("connection"), null);
  });

  it("CopiesImmutableResponsesToMarkThem", async () => {
    const { runtime, server, clock } = setup({ drainDelay: 1_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(2 * QUIET_MS);
    const response = await runtime.servers[0]!.fetch("/redirect");
    assert.equal(response.status, 302);
    assert.equal(response.headers.get("location"), "http://example.test/");
    assert.equal(response.headers.get("connection"), "close");
  });

  it("KeepsServingDuringTheDrainDelayWithReadinessFailing", async () => {
    const { runtime, server, clock } = setup({ drainDelay: 2_000 });
    await server.ready;
    const fake = runtime.servers[0]!;
    assert.equal((await fake.fetch("/readyz")).status, 200);
    runtime.signal("SIGTERM");
    await clock.advance(1_999);
    assert.equal((await fake.fetch("/readyz")).status, 503);
    assert.equal((await fake.fetch("/livez")).status, 200);
    assert.equal((await fake.fetch("/")).status, 200);
    assert.ok(!runtime.calls.includes("close"), "still accepting during the delay");
    await clock.advance(1 + QUIET_MS);
    assert.ok(runtime.calls.includes("close"));
    const report = await server.finished;
    assert.equal(report.drainDelayMs, 2_000);
  });

  it("WaitsForWaitUntilTasks", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    await runtime.servers[0]!.fetch("/task");
    runtime.signal("SIGTERM");
    await clock.advance(999);
    assert.deepEqual(runtime.exitCodes, []);
    await clock.advance(1);
    const report = await server.finished;
    assert.deepEqual(report.tasks, { pendingAtStart: 1, completed: 1, failed: 0, cut: 0 });
    await clock.advance(0);
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("LogsARejectedTaskAndKeepsServing", async () => {
    const { runtime, server, logs } = setup();
    await server.ready;
    await runtime.servers[0]!.fetch("/reject");
    await settle();
    assert.ok(logs.some((l) => l.event === "task.failed" && String(l.msg).includes("disk full")));
    assert.equal((await runtime.servers[0]!.fetch("/")).status, 200);
  });

  it("CutsWhatIsLeftAtTheDeadlineAndExitsOne", async () => {
    const { runtime, server, clock } = setup({ timeout: 3_000 });
    await server.ready;
    const fake = runtime.servers[0]!;
    fake.open = 1; // a stream that ignores shutdown
    void fake.fetch("/slow");
    runtime.signal("SIGTERM");
    await clock.advance(2_999);
    assert.ok(!runtime.calls.includes("forceClose"));
    await clock.advance(1);
    const report = await server.finished;
    await clock.advance(0);
    assert.equal(report.forced, true);
    assert.equal(report.forcedBy, "deadline");
    assert.equal(report.requests.cut, 1);
    assert.equal(report.connectionsCut, 1);
    assert.equal(report.exitCode, 1);
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("CountsARequestCutAtTheDeadlineOnceEvenIfItsHandlerReturnsLater", async () => {
    const { runtime, server, clock, lifecycle, release } = setup({ timeout: 3_000 });
    // A stop hook that runs after the cut, while the cut handler finally returns.
    lifecycle.add({ name: "db", stop: () => release(), timeout: 500 });
    await server.ready;
    await clock.advance(0);
    void runtime.servers[0]!.fetch("/slow");
    runtime.signal("SIGTERM");
    await clock.advance(3_000);
    const report = await server.finished;
    assert.deepEqual(report.requests, { inFlightAtStart: 1, served: 0, cut: 1 });
  });

  it("CountsTheSameSignalTwiceInAMomentAsOne", async () => {
    const { runtime, server, clock, release } = setup();
    await server.ready;
    void runtime.servers[0]!.fetch("/slow");
    runtime.signal("SIGINT");
    await clock.advance(2 * QUIET_MS);
    runtime.signal("SIGINT");
    await clock.advance(100);
    assert.ok(!runtime.calls.includes("forceClose"));
    release();
    assert.equal((await server.finished).exitCode, 0);
  });

  it("StopsAtOnceOnASecondSignal", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    void runtime.servers[0]!.fetch("/slow");
    runtime.signal("SIGTERM");
    await clock.advance(1_000);
    let finishedAt: number | undefined;
    void server.finished.then(() => (finishedAt = clock.now()));
    runtime.signal("SIGTERM");
    // No time passes after the second signal: the drain must end on it, not on a later timer.
    await settle();
    assert.equal(finishedAt, 1_000, "finished at the second signal, with no time passing");
    const report = await server.finished;
    assert.equal(report.forcedBy, "second-signal");
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("ShutdownIsIdempotentAndDoesNotExit", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const a = server.shutdown();
    const b = server.shutdown();
    assert.equal(a, b);
    await clock.advance(QUIET_MS);
    const report = await a;
    await settle();
    assert.equal(report.reason, "shutdown");
    assert.deepEqual(runtime.exitCodes, []);
    assert.equal(runtime.listenerCount(), 0, "signal and error listeners removed");
  });

  it("RemovesEveryListenerAndTimerAfterRepeatedCycles", async () => {
    const { clock, runtime, serve } = fakeWorld();
    for (let i = 0; i < 100; i++) {
      const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: false });
      await server.ready;
      const report = server.shutdown();
      await clock.advance(QUIET_MS);
      await report;
      assert.equal(runtime.listenerCount(), 0);
    }
    assert.equal(clock.pendingTimers, 0);
  });

  it("RejectsReadyWithTheListenErrorAndExitsOneWhenSignalManaged", async () => {
    const { clock, runtime, serve } = fakeWorld((
      r,
    ) => (r.listenError = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" })));
    const logs: LogRecord[] = [];
    const server = serve({ fetch: () => new Response() }, { port: 8080, logger: (r: LogRecord) => logs.push(r) });
    await assert.rejects(server.ready, {
      name: "ListenError",
      message: "cannot listen on 0.0.0.0:8080: port 8080 is already in use (EADDRINUSE)",
    });
    const report = await server.finished;
    await clock.advance(0);
    assert.equal(report.reason, "start-failed");
    assert.deepEqual(runtime.exitCodes, [1]);
    assert.equal(logs.filter((l) => l.level === "error" && l.event === "start.failed").length, 1);
  });

  it("StartsTheSameDrainOnAFatalError", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    for (const listener of runtime.fatalListeners) listener(new Error("boom"), "uncaughtException");
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    await clock.advance(0);
    assert.equal(report.reason, "error");
    assert.deepEqual(runtime.exitCodes, [1]);
    assert.ok(report.errors.some((e) => e.includes("boom")));
  });

  it("AFatalErrorDuringASignalsDrainMakesTheExit1", async () => {
    const { runtime, server, clock } = setup({ drainDelay: 1_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(100);
    for (const listener of runtime.fatalListeners) listener(new Error("boom in a stop"), "uncaughtException");
    await clock.advance(1_000);
    const report = await server.finished;
    await clock.advance(0);
    assert.equal(report.reason, "signal");
    assert.ok(report.errors.some((e) => e.includes("boom in a stop")));
    // It said exit 0 and exited 0, the crash only in `errors`.
    assert.equal(report.exitCode, 1);
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("AFatalErrorDuringAShutdownCallsDrainEndsTheProcessAsTheRuntimeWould", async () => {
    const { runtime, server, clock } = setup();
    await server.ready;
    const finished = server.shutdown();
    for (const listener of runtime.fatalListeners) listener(new Error("boom"), "unhandledRejection");
    await clock.advance(QUIET_MS);
    const report = await finished;
    await clock.advance(0);
    assert.equal(report.exitCode, 1);
    // It was left running with nothing listening: the runtime would have ended it.
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("ArmsTheExitWatchdogPastTheDeadlineWhenTheDrainEndsTheProcessOnly", async () => {
    const armed: number[] = [];
    const flushing: boolean[] = [];
    let disarmed = 0;
    const { clock, runtime, lifecycle, serve } = fakeWorld((rt) => {
      (rt as RuntimeAdapter).exitWatchdog = (ms, flushingLogger) => (armed.push(ms), flushing.push(flushingLogger), () => void disarmed++);
    });
    const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: false, timeout: 3_000 });
    await server.ready;
    // A shutdown() call leaves the process running: no backstop to end it.
    const first = lifecycle.shutdown();
    await clock.advance(QUIET_MS);
    await first;
    assert.deepEqual(armed, []);
    const again = serve({ fetch: () => new Response("ok") }, { port: 0, logger: false, timeout: 3_000 });
    await again.ready;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await again.finished;
    await clock.advance(0);
    assert.deepEqual(armed, [3_000 + WATCHDOG_GRACE_MS]);
    assert.deepEqual(flushing, [false], "no logger that flushes at the exit (Node arms its watchdog only for one)");
    assert.equal(disarmed, 0, "the exit ends the process, and the watchdog with it");
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("CountsTheDeadlineFromTheSignalNotFromAfterTheWatchdogsStart", async () => {
    // Deno's watchdog (a Worker) holds the event loop ~40 ms as it starts, 190-570 ms on a busy
    // machine: a deadline counted from after it ended the drain that much past `timeout`.
    const { clock, runtime, serve } = fakeWorld((rt) => {
      (rt as RuntimeAdapter).exitWatchdog = () => (clock.block(400), () => {});
    });
    const server = serve({ fetch: () => new Promise<Response>(() => {}) }, { port: 0, logger: false, timeout: 3_000 });
    await server.ready;
    void runtime.servers[0]!.fetch("/"); // never answered: the drain runs to its deadline
    let ended = false;
    void server.finished.then(() => (ended = true));
    const signalledAt = clock.now();
    runtime.signal("SIGTERM");
    await clock.advance(0);
    assert.equal(clock.now() - signalledAt, 400, "the watchdog's start held the event loop");
    await clock.advance(signalledAt + 2_990 - clock.now());
    assert.equal(ended, false);
    await clock.advance(20);
    assert.equal(ended, true, "forced at the deadline, 3,000 ms after the signal");
    assert.equal((await server.finished).forced, true);
  });

  it("LeavesFatalErrorsToTheRuntimeWhenTurnedOff", async () => {
    const { runtime, server, clock } = setup({ fatalErrors: false });
    await server.ready;
    assert.equal(runtime.fatalListeners.size, 0);
    const report = server.shutdown();
    await clock.advance(QUIET_MS);
    await report;
  });

  it("StartsNoServerForAnyBadOption", async () => {
    const { clock, runtime, serve } = fakeWorld();
    const bad: Record<string, unknown>[] = [
      { port: -1 },
      { port: "80" },
      { hostname: "" },
      { timeout: -1 },
      { drainDelay: Number.NaN },
      { signals: ["SIGKILL"] },
      { health: "/x" },
      { onListen: 1 },
      { exit: "yes" },
      { logger: 3 },
      { lifecycle: {} },
      { fatalErrors: 0 },
      { name: "" },
      { nope: true },
      { timeout: 2 ** 31 },
      { drainDelay: Infinity },
    ];
    for (const options of bad) {
      assert.throws(() => serve({ fetch: () => new Response() }, options as never), TypeError, JSON.stringify(options));
    }
    assert.throws(() => serve({} as never), /"app" must be a Hono app/);
    await clock.advance(100);
    assert.deepEqual(runtime.calls, [], "nothing listened");
    assert.equal(runtime.listenerCount(), 0, "no signal listener installed");
  });

  it("AnswersHandlerErrorsWith500", async () => {
    const { clock, runtime, serve } = fakeWorld();
    const server = serve({
      fetch: () => {
        throw new Error("bad");
      },
    }, { logger: false, signals: false });
    await server.ready;
    assert.equal((await runtime.servers[0]!.fetch("/")).status, 500);
    const report = server.shutdown();
    await clock.advance(QUIET_MS);
    await report;
  });
});

describe("the hold's timers", () => {
  it("never asks for a wait below 0 ms while the clock moves between two readings", async () => {
    // Each reading 0.1 µs after the last, the boundary between the first two: read twice, its wait
    // came out negative (Bun and Deno print a TimeoutNegativeWarning for it).
    let now = 0;
    const waits: number[] = [];
    const clock: Clock = {
      now: () => (now += 0.0001),
      wallTime: () => 0,
      setTimer(fn, ms) {
        waits.push(ms);
        const timer = setTimeout(fn, 0);
        return () => clearTimeout(timer);
      },
    };
    const servers = [{ traffic: { keptAliveArrived: 0 } }] as unknown as ServerPart[];
    await waitForQuiet(clock, servers, new Promise(() => {}), { quietNotBefore: 0.00015, quietUntil: 250, catchUpUntil: 350 }, 20);
    assert.ok(waits.length > 0 && waits.every((ms) => ms >= 0), `waits: ${waits.join(", ")}`);
  });
});
