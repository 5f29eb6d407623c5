/** Readiness on the injected clock: the startup gate, checks with timeouts, sharing, caching, logging, ?verbose. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { DEFAULT_CHECK_TIMEOUT_MS } from "../../src/drain/parts.ts";
import { CHECK_CACHE_MS, REASON_MAX_CHARS } from "../../src/drain/readiness.ts";
import type { LogRecord } from "../../src/types.ts";
import { fakeWorld, settle } from "./fakes.ts";

function setup() {
  const world = fakeWorld();
  const records: LogRecord[] = [];
  let appRequests = 0;
  const app = {
    fetch: () => {
      appRequests++;
      return new Response("app");
    },
  };
  const server = world.serve(app, { port: 1, logger: (r: LogRecord) => records.push(r) });
  const fake = () => world.runtime.servers[0]!;
  /** Status and body of a probe, waiting on the fake clock for at most `ms`. */
  const probe = async (path: string, init?: RequestInit) => {
    const response = await fake().fetch(path, init);
    return { status: response.status, body: await response.text() };
  };
  return { ...world, records, server, fake, probe, appRequests: () => appRequests };
}

/** A check that counts its calls and fails while `failing` is set. */
function toggled(message = "connection refused") {
  const state = { calls: 0, failing: false };
  return {
    state,
    check: () => {
      state.calls++;
      if (state.failing) throw new Error(message);
    },
  };
}

describe("health", () => {
  it("AnswersReadyzWith503UntilAPartRegisteredAfterTheServerHasStarted", async () => {
    const { lifecycle, server, clock, probe } = setup();
    lifecycle.add({ name: "warmup", start: () => new Promise((resolve) => clock.setTimer(() => resolve(undefined), 300)), timeout: 1_000 });
    await server.ready;
    await settle();
    assert.deepEqual(await probe("/readyz"), { status: 503, body: "starting\n" });
    assert.deepEqual(await probe("/livez"), { status: 200, body: "ok\n" }, "live as soon as the server listens");
    const verbose = await probe("/readyz?verbose");
    assert.match(verbose.body, /^\[-\]started failed: waiting for warmup$/m);
    assert.match(verbose.body, /readyz check failed\n$/);
    await clock.advance(300);
    assert.equal(lifecycle.state, "running");
    assert.deepEqual(await probe("/readyz"), { status: 200, body: "ok\n" });
  });

  it("FailsReadinessAgainWhileAPartAddedToARunningLifecycleStarts", async () => {
    const { lifecycle, server, clock, probe } = setup();
    await server.ready;
    await settle();
    assert.equal((await probe("/readyz")).status, 200);
    lifecycle.add({ name: "late", start: () => new Promise((resolve) => clock.setTimer(() => resolve(undefined), 100)) });
    await settle();
    assert.equal((await probe("/readyz")).status, 503);
    await clock.advance(100);
    assert.equal((await probe("/readyz")).status, 200);
  });

  it("FailsReadinessWhileACheckFailsAndRecoversWithoutTouchingTheAppOrLiveness", async () => {
    const { lifecycle, server, clock, probe, fake, appRequests } = setup();
    const db = toggled("db down");
    lifecycle.add({ name: "db", check: db.check });
    await server.ready;
    await settle();
    assert.deepEqual(await probe("/readyz"), { status: 200, body: "ok\n" });
    db.state.failing = true;
    await clock.advance(CHECK_CACHE_MS);
    assert.deepEqual(await probe("/readyz"), { status: 503, body: "unready\n" });
    const calls = db.state.calls;
    assert.equal((await fake().fetch("/")).status, 200, "the app keeps serving");
    assert.equal((await probe("/livez")).status, 200, "liveness never depends on a dependency");
    assert.equal(db.state.calls, calls, "neither the app nor /livez ran the check");
    assert.equal(appRequests(), 1, "probes never reach the app");
    db.state.failing = false;
    await clock.advance(CHECK_CACHE_MS);
    assert.equal((await probe("/readyz")).status, 200);
  });

  it("ReusesAResultForTheCacheIntervalThenCallsTheCheckAgain", async () => {
    const { lifecycle, server, clock, probe } = setup();
    const db = toggled();
    lifecycle.add({ name: "db", check: db.check });
    await server.ready;
    await settle();
    for (let i = 0; i < 10; i++) await probe("/readyz");
    assert.equal(db.state.calls, 1);
    await clock.advance(CHECK_CACHE_MS - 1);
    await probe("/readyz");
    assert.equal(db.state.calls, 1, "still within the interval");
    await clock.advance(1);
    await probe("/readyz");
    assert.equal(db.state.calls, 2, "called again once the interval passed");
  });

  it("SharesOneCallBetweenConcurrentProbes", async () => {
    const { lifecycle, server, clock, fake } = setup();
    let calls = 0;
    lifecycle.add({ name: "db", check: () => (calls++, new Promise((resolve) => clock.setTimer(() => resolve(undefined), 100))) });
    await server.ready;
    await settle();
    const answers = Array.from({ length: 20 }, () => fake().fetch("/readyz"));
    await clock.advance(100);
    const statuses = await Promise.all(answers.map(async (a) => (await a).status));
    assert.deepEqual(statuses, Array(20).fill(200));
    assert.equal(calls, 1, "20 probes, one call");
  });

  it("AnswersAHungCheckWith503WithinItsTimeoutAndDoesNotPileCallsOnIt", async () => {
    const { lifecycle, server, clock, fake, probe } = setup();
    let calls = 0;
    lifecycle.add({ name: "search", check: () => (calls++, new Promise(() => {})) });
    await server.ready;
    await settle();
    let answered: Response | undefined;
    void Promise.resolve(fake().fetch("/readyz?verbose")).then((r) => (answered = r));
    await clock.advance(DEFAULT_CHECK_TIMEOUT_MS - 1);
    assert.equal(answered, undefined, "waits for the check up to its timeout");
    await clock.advance(1);
    const got = answered as Response | undefined;
    assert.equal(got?.status, 503, `answered at ${DEFAULT_CHECK_TIMEOUT_MS} ms`);
    assert.match(await got!.text(), /^\[-\]search failed: timed out after 500 ms$/m);
    await clock.advance(CHECK_CACHE_MS * 3);
    const again = await probe("/readyz?verbose");
    assert.equal(again.status, 503);
    assert.match(again.body, /still running/);
    assert.equal(calls, 1, "a hung call is not repeated while it hangs");
  });

  it("UsesThePartsOwnCheckTimeout", async () => {
    const { lifecycle, server, clock, fake } = setup();
    lifecycle.add({ name: "slow", check: () => new Promise(() => {}), checkTimeout: 50 });
    await server.ready;
    await settle();
    let status = 0;
    void Promise.resolve(fake().fetch("/readyz")).then((r) => (status = r.status));
    await clock.advance(49);
    assert.equal(status, 0);
    await clock.advance(1);
    assert.equal(status, 503);
  });

  it("LogsEachChangeOnceNotEachProbe", async () => {
    const { lifecycle, server, clock, probe, records } = setup();
    const db = toggled("db down");
    lifecycle.add({ name: "db", check: db.check });
    await server.ready;
    await settle();
    const health = () => records.filter((r) => String(r.event).startsWith("health.")).map((r) => `${r.event}:${r.check}:${r.reason ?? ""}`);
    await probe("/readyz");
    assert.deepEqual(health(), [], "a first passing result is no news");
    db.state.failing = true;
    for (let i = 0; i < 5; i++) {
      await clock.advance(CHECK_CACHE_MS);
      await probe("/readyz");
    }
    db.state.failing = false;
    for (let i = 0; i < 5; i++) {
      await clock.advance(CHECK_CACHE_MS);
      await probe("/readyz");
    }
    assert.deepEqual(health(), ["health.unready:db:db down", "health.ready:db:"]);
  });

  it("FlipsTo503AtTheDrainWhateverTheChecksSayAndRunsNoCheckThen", async () => {
    const world = fakeWorld();
    const db = toggled();
    world.lifecycle.add({ name: "db", check: db.check });
    const server = world.serve({ fetch: () => new Response() }, { port: 1, logger: false, drainDelay: 1_000 });
    await server.ready;
    await settle();
    const fake = world.runtime.servers[0]!;
    assert.equal((await fake.fetch("/readyz")).status, 200);
    const calls = db.state.calls;
    world.runtime.signal("SIGTERM");
    await settle();
    const draining = await fake.fetch("/readyz?verbose");
    assert.equal(draining.status, 503);
    const body = await draining.text();
    assert.match(body, /^\[-\]shutdown failed: draining$/m);
    assert.equal((await fake.fetch("/readyz")).headers.get("connection"), "close");
    await world.clock.advance(CHECK_CACHE_MS * 2);
    assert.equal((await fake.fetch("/readyz")).status, 503);
    assert.equal(db.state.calls, calls, "no check runs while draining");
    await world.clock.advance(QUIET_MS);
    assert.equal((await world.lifecycle.finished).exitCode, 0);
  });

  it("AnswersAProbeWhoseCheckWasRunningWhenTheDrainStartedWith503", async () => {
    const world = fakeWorld();
    world.lifecycle.add({ name: "db", check: () => new Promise((resolve) => world.clock.setTimer(() => resolve(undefined), 100)) });
    const server = world.serve({ fetch: () => new Response() }, { port: 1, logger: false, drainDelay: 1_000 });
    await server.ready;
    await settle();
    const answer = world.runtime.servers[0]!.fetch("/readyz");
    world.runtime.signal("SIGTERM");
    await world.clock.advance(100);
    const response = await answer;
    assert.equal(response.status, 503, "the drain wins over a passing check");
    assert.equal(await response.text(), "draining\n");
    await world.clock.advance(1_000 + QUIET_MS);
    assert.equal((await world.lifecycle.finished).exitCode, 0);
  });

  it("ListsEveryCheckUnderVerboseInTheKubernetesForm", async () => {
    const { lifecycle, server, probe } = setup();
    lifecycle.add({ name: "db", check: () => {} });
    lifecycle.add({ name: "search", check: () => Promise.reject(new Error("503 from search\n    at secret (/app/env.ts:1)")) });
    await server.ready;
    await settle();
    const failing = await probe("/readyz?verbose");
    assert.equal(failing.status, 503);
    assert.equal(
      failing.body,
      [
        "[+]ping ok",
        "[+]shutdown ok",
        "[+]started ok",
        "[+]db ok",
        "[-]search failed: 503 from search at secret (/app/env.ts:1)",
        "readyz check failed",
        "",
      ].join("\n"),
    );
    const excluded = await probe("/readyz?verbose&exclude=search&exclude=nope&exclude=shutdown");
    assert.equal(excluded.status, 200, "an excluded check does not count");
    assert.equal(
      excluded.body,
      [
        "[+]ping ok",
        "[+]shutdown ok",
        "[+]started ok",
        "[+]db ok",
        "[+]search excluded: ok",
        'warn: some health checks cannot be excluded: no matches for "nope", "shutdown"',
        "readyz check passed",
        "",
      ].join("\n"),
    );
    assert.deepEqual(await probe("/readyz?exclude=search"), { status: 200, body: "ok\n" });
    assert.deepEqual(await probe("/livez?verbose"), { status: 200, body: "[+]ping ok\nlivez check passed\n" });
    // HEAD gets the same response: the runtime sends its Content-Length and drops the body.
    const head = await probe("/readyz?verbose", { method: "HEAD" });
    assert.deepEqual(head, await probe("/readyz?verbose"));
  });

  it("EscapesExcludedNamesItEchoes", async () => {
    const { server, probe } = setup();
    await server.ready;
    await settle();
    const { body } = await probe(`/readyz?verbose&exclude=${encodeURIComponent("x\n[+]fake ok")}`);
    assert.ok(!body.includes("\n[+]fake ok"), body);
    assert.match(body, /no matches for "x\\n\[\+\]fake ok"/);
  });

  it("KeepsTheReasonToOneBoundedLine", async () => {
    const { lifecycle, server, probe } = setup();
    lifecycle.add({ name: "db", check: () => Promise.reject(new Error(`line one\nline two ${"x".repeat(5_000)}`)) });
    await server.ready;
    await settle();
    const { body } = await probe("/readyz?verbose");
    const dbLine = body.split("\n").find((l) => l.startsWith("[-]db"))!;
    assert.ok(dbLine.startsWith("[-]db failed: line one line two x"), dbLine);
    assert.ok(dbLine.length <= "[-]db failed: ".length + REASON_MAX_CHARS, `${dbLine.length} chars`);
  });

  it("RejectsABadCheckOrCheckTimeoutNamingTheKey", () => {
    const { lifecycle } = fakeWorld();
    assert.throws(() => lifecycle.add({ name: "db", check: "select 1" as never }), {
      name: "TypeError",
      message: 'lifecycle.add("db"): "check" must be a function, got "select 1"',
    });
    for (const bad of [0, -1, Number.NaN, Infinity, 2 ** 31, "500"]) {
      assert.throws(() => lifecycle.add({ name: "db", check: () => {}, checkTimeout: bad as number }), (error: Error) => {
        assert.equal(error.name, "TypeError");
        assert.match(error.message, /^lifecycle\.add\("db"\): "checkTimeout" must be (a positive number of ms|at most 2147483647 ms)/);
        return true;
      });
    }
    assert.throws(() => lifecycle.add({ name: "db", checkTimeout: 100 }), /"checkTimeout" is set but the part has no "check"/);
    lifecycle.add({ name: "db", check: () => {}, checkTimeout: 2 ** 31 - 1 });
  });
});
