/**
 * Readiness that tells the truth, on Node, Bun and Deno: the startup gate for a part registered
 * after the server, a dependency check toggled failing and back, a hung check answered within its
 * timeout, ?verbose and ?exclude, and SIGTERM still draining to exit 0.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type RawResponse, request } from "../support/client.ts";
import { Fixture, selectedRuntimes } from "../support/harness.ts";

const HEALTH = "test/fixtures/health.ts";
/** The library's defaults this suite relies on (see readiness.ts and parts.ts). */
const CACHE_MS = 1_000;
const SEARCH_TIMEOUT_MS = 300;
/** This machine is shared and noisy: generous margins on every time bound. */
const MARGIN_MS = 700;

const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

async function start(runtime: Parameters<typeof Fixture.start>[0], env: Record<string, string> = {}): Promise<Fixture> {
  const f = await Fixture.start(runtime, HEALTH, {}, env);
  started.push(f);
  return f;
}

/** Probes `target` until `done` holds, at most `ms`; returns the answer and when it came. */
async function pollUntil(port: number, target: string, done: (r: RawResponse) => boolean, ms: number, what: string): Promise<RawResponse> {
  const deadline = performance.now() + ms;
  let last: RawResponse | undefined;
  for (let i = 0; i < 1_000 && performance.now() < deadline; i++) {
    last = await request(port, "GET", target, 5_000);
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what}: not within ${ms} ms; last answer ${last?.status} ${JSON.stringify(last?.body)}`);
}

async function drainsToZero(f: Fixture): Promise<void> {
  f.signal("SIGTERM");
  const exit = await f.exit(10_000);
  assert.equal(exit.code, 0, "SIGTERM still drains and exits 0");
  assert.equal(f.report()?.exitCode, 0);
}

for (const runtime of selectedRuntimes()) {
  describe(`health on ${runtime.name}`, { concurrency: false, timeout: 60_000 }, () => {
    it("answers HEAD on /readyz and /livez with the GET's Content-Length and no body", { timeout: 30_000 }, async () => {
      const f = await start(runtime);
      await pollUntil(f.port, "/readyz", (r) => r.status === 200, 10_000, "ready");
      for (const path of ["/readyz", "/livez", "/readyz?verbose"]) {
        const get = await fetch(`http://127.0.0.1:${f.port}${path}`);
        const body = await get.text();
        const head = await fetch(`http://127.0.0.1:${f.port}${path}`, { method: "HEAD" });
        assert.equal(head.status, get.status, path);
        assert.equal(head.headers.get("content-length"), String(Buffer.byteLength(body)), `${path}: the GET's length`);
        assert.equal((await head.arrayBuffer()).byteLength, 0, `${path}: no body`);
      }
      await drainsToZero(f);
    });

    it("answers /readyz 503 while a part registered after the server starts, 200 after", { timeout: 30_000 }, async () => {
      const f = await start(runtime, { SG_LATE_START_MS: "1500" });
      const early = await request(f.port, "GET", "/readyz");
      assert.ok(
        !f.lines.some((l) => l.event === "part.started" && l.part === "cache" && l.at < early.at),
        "the probe came while cache was starting",
      );
      assert.deepEqual([early.status, early.body], [503, "starting\n"], "not ready before every part started");
      assert.equal((await request(f.port, "GET", "/livez")).status, 200, "live as soon as the server listens");
      const verbose = await request(f.port, "GET", "/readyz?verbose");
      assert.match(verbose.body, /^\[-\]started failed: waiting for cache$/m);
      assert.match(verbose.body, /^readyz check failed$/m);
      await f.waitFor((l) => l.event === "part.started" && l.part === "cache", 10_000, "the cache part to start");
      const ready = await request(f.port, "GET", "/readyz");
      assert.deepEqual([ready.status, ready.body], [200, "ok\n"]);
      await drainsToZero(f);
    });

    it("fails readiness while a check fails, keeps the app and /livez up, recovers", { timeout: 30_000 }, async () => {
      const f = await start(runtime);
      await pollUntil(f.port, "/readyz", (r) => r.status === 200, 10_000, "ready after start");
      const toggled = performance.now();
      assert.equal((await request(f.port, "POST", "/toggle?db=1")).status, 200);
      const failing = await pollUntil(f.port, "/readyz", (r) => r.status === 503, CACHE_MS + MARGIN_MS * 2, "503 after the db check fails");
      assert.equal(failing.body, "unready\n");
      assert.ok(failing.at - toggled <= CACHE_MS + MARGIN_MS * 2, `503 ${Math.round(failing.at - toggled)} ms after the failure`);
      assert.equal((await request(f.port, "GET", "/")).body, "hello", "the app keeps serving");
      assert.equal((await request(f.port, "GET", "/livez")).status, 200, "liveness never runs dependency checks");

      const verbose = await request(f.port, "GET", "/readyz?verbose");
      assert.equal(verbose.status, 503);
      assert.match(verbose.body, /^\[\+\]search ok$/m);
      assert.match(verbose.body, /^\[-\]db failed: db unreachable: connect ECONNREFUSED 127\.0\.0\.1:5432$/m);
      assert.match(verbose.body, /readyz check failed\n$/);
      assert.ok(!/\bat \S+:\d+/.test(verbose.body), "no stack in the output");
      const excluded = await request(f.port, "GET", "/readyz?verbose&exclude=db&exclude=nosuch");
      assert.equal(excluded.status, 200, "an excluded check does not count");
      assert.match(excluded.body, /^\[\+\]db excluded: ok$/m);
      assert.match(excluded.body, /^warn: some health checks cannot be excluded: no matches for "nosuch"$/m);
      assert.equal((await request(f.port, "GET", "/livez?verbose")).body, "[+]ping ok\nlivez check passed\n");

      await request(f.port, "POST", "/toggle?db=0");
      await pollUntil(f.port, "/readyz", (r) => r.status === 200, CACHE_MS + MARGIN_MS * 2, "200 after the db recovers");
      const unready = f.lines.filter((l) => l.event === "health.unready");
      assert.equal(unready.length, 1, "one line for the change, not one per probe");
      assert.equal(unready[0]!.check, "db");
      assert.match(String(unready[0]!.reason), /db unreachable/);
      await f.waitFor((l) => l.event === "health.ready" && l.check === "db", 2_000, "the health.ready line");
      assert.ok(!f.lines.some((l) => l.fixture === "app.request" && /z$/.test(String(l.path))), "probes never reach the app");
      await drainsToZero(f);
    });

    it("answers a hung check with 503 within its timeout", { timeout: 30_000 }, async () => {
      const f = await start(runtime);
      await pollUntil(f.port, "/readyz", (r) => r.status === 200, 10_000, "ready after start");
      await request(f.port, "POST", "/toggle?search=1");
      // The cached 200 may last up to CACHE_MS; every answer, cached or not, comes within the timeout.
      const deadline = performance.now() + CACHE_MS + MARGIN_MS * 2;
      let answer: RawResponse | undefined;
      for (let i = 0; i < 200 && performance.now() < deadline; i++) {
        const sent = performance.now();
        answer = await request(f.port, "GET", "/readyz?verbose", 5_000);
        const took = answer.at - sent;
        assert.ok(took < SEARCH_TIMEOUT_MS + MARGIN_MS, `answered in ${Math.round(took)} ms`);
        if (answer.status === 503) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(answer?.status, 503, "a hung check counts as failing");
      assert.match(answer!.body, /^\[-\]search failed: timed out after 300 ms/m);
      await drainsToZero(f);
    });
  });
}
