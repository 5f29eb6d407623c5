/**
 * Reload under load on Node, Bun and Deno: SIGHUP to the primary while keep-alive clients send
 * requests back to back, with the entry file changed on disk. 0 failed requests, the answers
 * switch to the new code, and the old workers are gone. A balancer's health check (a new
 * connection to /readyz every few ms) sees the instance ready throughout: a reload is no drain of
 * the service, whatever its drain delay.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Fixture, ROOT, selectedRuntimes } from "../support/harness.ts";
import { KeepAliveClient } from "../support/keepalive-client.ts";
import { alive } from "../support/processes.ts";

const CLIENTS = 4;
// Bounds on the load: a quiet machine answers tens of thousands a second, and the load must last
// past the reload.
const MAX_REQUESTS = 300_000;
const MAX_LOAD_MS = 90_000;
/** The stalling client waits STALL_MS before every STALL_EVERY-th request. */
const STALL_EVERY = 20;
const STALL_MS = 30;
/** Answers seen from the old code before the SIGHUP, and from the new code after the reload line. */
const ANSWERS_AROUND_RELOAD = 400;
/** Idle keep-alive connections kept through a reload (Node). */
const IDLE_CONNECTIONS = 6;
/** http's headersTimeout in that test, under its keep-alive timeout. */
const HEADERS_TIMEOUT_MS = 1_500;
/** The health check's pace: a new connection to /readyz this often. */
const CHECK_EVERY_MS = 20;
const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((fn) => fn()));

interface Result {
  at: number;
  status?: number;
  body?: string;
  error?: string;
}

for (const runtime of selectedRuntimes()) {
  describe(`workers reload on ${runtime.name}`, () => {
    it("SighupUnderKeepAliveLoadFailsNoRequestAndSwitchesToTheNewCode", async () => {
      // A copy of the fixture that the test edits, next to it (so its imports resolve).
      const entry = `test/fixtures/.reload-${runtime.name}-${process.pid}.ts`;
      const file = path.join(ROOT, entry);
      copyFileSync(path.join(ROOT, "test/fixtures/workers.ts"), file);
      cleanup.push(() => rmSync(file, { force: true }));
      // A drain delay as behind a balancer: a reload must not spend it, nor fail /readyz meanwhile.
      const fixture = new Fixture(runtime, entry, { workers: 2, timeout: 8_000, drainDelay: 1_000 });
      cleanup.push(() => fixture.kill());
      const listening = await fixture.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
      const oldPids = listening.pids as number[];
      cleanup.push(() => oldPids.forEach((pid) => alive(pid) && process.kill(pid, "SIGKILL")));
      const port = listening.port as number;

      const results: Result[] = [];
      let stop = false;
      // Waits on the answers themselves: resolved by the load as they come, or failed at a deadline.
      const waiters = new Set<{ done: () => boolean; resolve: () => void }>();
      const answers = (what: string, done: () => boolean, ms: number) =>
        new Promise<void>((resolve, reject) => {
          if (done()) return resolve();
          const waiter = { done, resolve: () => (clearTimeout(timer), resolve()) };
          const timer = setTimeout(() => (waiters.delete(waiter), reject(new Error(`${what}: not within ${ms} ms`))), ms);
          waiters.add(waiter);
        });
      const record = (result: Result) => {
        results.push(result);
        for (const waiter of waiters) if (waiter.done()) (waiters.delete(waiter), waiter.resolve());
      };
      const loadUntil = performance.now() + MAX_LOAD_MS;
      const load = Array.from({ length: CLIENTS }, async (_, index) => {
        const client = new KeepAliveClient(port);
        for (let n = 1; !stop && results.length < MAX_REQUESTS && performance.now() < loadUntil; n++) {
          // One client stalls now and then between an answer and its next request, as a client on
          // a loaded machine does (the cause of the reload's lost requests, fixed).
          if (index === 0 && n % STALL_EVERY === 0) await new Promise((resolve) => setTimeout(resolve, STALL_MS));
          const at = performance.now();
          try {
            const answer = await client.request("/", 5_000);
            record({ at, status: answer.status, body: answer.body });
          } catch (error) {
            record({ at, error: (error as Error).message });
          }
        }
        client.close();
      });
      // The old code answers before the reload, and the new code for a while after it. (Which
      // workers answer is the kernel's choice with reusePort: 4 connections can all hash to one.)
      const answeredBy = (version: string, since: number) => results.filter((r) => r.at > since && r.body?.startsWith(version)).length;
      await answers("the old code answering", () => answeredBy("v1 ", 0) >= ANSWERS_AROUND_RELOAD, 30_000);
      const checks: { at: number; status: number | string }[] = [];
      let checking = true;
      const checker = (async () => {
        for (let n = 0; checking && n < MAX_LOAD_MS / CHECK_EVERY_MS; n++) {
          const at = performance.now();
          checks.push({ at, status: await readyz(port) });
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, CHECK_EVERY_MS - (performance.now() - at))));
        }
      })();
      writeFileSync(file, readFileSync(file, "utf8").replace('const VERSION = "v1";', 'const VERSION = "v2";'));
      fixture.signal("SIGHUP");
      const reload = await fixture.waitFor((l) => l.event === "reload" || l.event === "reload.failed", 60_000, "the reload line");
      assert.equal(reload.event, "reload", JSON.stringify(reload));
      await answers("the new code answering", () => answeredBy("v2 ", reload.at as number) >= ANSWERS_AROUND_RELOAD, 30_000);
      stop = true;
      checking = false;
      await Promise.all([...load, checker]);

      const failed = results.filter((r) => r.error !== undefined || r.status !== 200);
      const story = () =>
        fixture.lines.filter((l) => typeof l.event === "string").map((l) => `${Math.round(l.at)} ${l.pid ?? ""} ${l.event} ${l.msg}`)
          .join("\n");
      assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))}\n${story()}`);
      // Readiness is what is asserted: a new connection can still be reset as an old listener closes
      // (the accept queue without net.ipv4.tcp_migrate_req, Deno's shutdown: workers.md), which a
      // balancer's check counts as one failed check, not as the instance saying it is unready.
      const unready = checks.filter((c) => typeof c.status === "number" && c.status !== 200);
      const answered = checks.filter((c) => c.at < reload.at && c.status === 200).length;
      assert.ok(answered >= 5, `health checks answered during the reload: ${answered} of ${checks.length}`);
      assert.equal(unready.length, 0, `/readyz during the reload: ${JSON.stringify(unready.slice(0, 5))} of ${checks.length}\n${story()}`);
      const after = results.filter((r) => r.at > reload.at);
      assert.ok(after.length > 0, "load after the reload");
      assert.ok(after.every((r) => r.body!.startsWith("v2 ")), "only the new code answers after the reload");
      assert.ok(results.some((r) => r.body!.startsWith("v1 ")), "the old code answered before");
      const replaced = reload.replaced as { from: number; to: number }[];
      assert.deepEqual(replaced.map((r) => r.from).sort(), [...oldPids].sort());
      for (const pid of oldPids) assert.equal(alive(pid), false, `old worker ${pid} is gone`);
      for (const { to } of replaced) cleanup.push(() => alive(to) && process.kill(to, "SIGKILL"));

      fixture.signal("SIGTERM");
      assert.equal((await fixture.exit(15_000)).code, 0);
    });

    // Node's primary holds the port and the connections: an old worker gives its idle ones back and
    // the primary hands them to a new worker, so a pooled client's next request meets no close (it
    // used to be closed under the client: 22-46 failed requests in 5 reloads with undici's Pool).
    it("AnIdleKeepAliveConnectionOutlivesAReloadAndItsNextRequestGetsTheNewCode", { skip: runtime.name !== "node" }, async () => {
      const entry = `test/fixtures/.reload-idle-${runtime.name}-${process.pid}.ts`;
      const file = path.join(ROOT, entry);
      copyFileSync(path.join(ROOT, "test/fixtures/workers.ts"), file);
      cleanup.push(() => rmSync(file, { force: true }));
      // http's headersTimeout below the keep-alive timeout, checked often: a moved connection must
      // still be kept alive (it was answered 408 once headersTimeout passed in its new worker).
      const serverOptions = { headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 100 };
      const fixture = new Fixture(runtime, entry, { workers: 2, timeout: 8_000, keepAliveTimeout: 30_000, serverOptions });
      cleanup.push(() => fixture.kill());
      const listening = await fixture.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
      const oldPids = listening.pids as number[];
      cleanup.push(() => oldPids.forEach((pid) => alive(pid) && process.kill(pid, "SIGKILL")));
      const port = listening.port as number;
      // Enough connections that both old workers hold some (the primary hands them out in turn).
      const clients = await Promise.all(Array.from({ length: IDLE_CONNECTIONS }, async () => {
        const client = new KeepAliveClient(port);
        await client.connect();
        return client;
      }));
      cleanup.push(() => clients.forEach((c) => c.close()));
      const before = await Promise.all(clients.map(async (c) => (await c.request("/")).body));
      assert.deepEqual(new Set(before.map((body) => Number(body.split(" ")[1]))), new Set(oldPids), `answers: ${before}`);

      writeFileSync(file, readFileSync(file, "utf8").replace('const VERSION = "v1";', 'const VERSION = "v2";'));
      fixture.signal("SIGHUP");
      const reload = await fixture.waitFor((l) => l.event === "reload" || l.event === "reload.failed", 60_000, "the reload line");
      assert.equal(reload.event, "reload", JSON.stringify(reload));
      for (const pid of oldPids) assert.equal(alive(pid), false, `old worker ${pid} is gone`);
      for (const { to } of reload.replaced as { to: number }[]) cleanup.push(() => alive(to) && process.kill(to, "SIGKILL"));

      // The same connections, never closed (nor answered unasked), now answered by the new workers.
      assert.deepEqual(clients.map((c) => c.open), clients.map(() => true), "no connection closed by the reload");
      await new Promise((resolve) => setTimeout(resolve, HEADERS_TIMEOUT_MS + 500)); // a time, not an event: what must not happen
      assert.deepEqual(clients.map((c) => c.open && !c.unasked), clients.map(() => true), "kept alive past headersTimeout");
      const afterReload = await Promise.all(clients.map(async (c) => (await c.request("/")).body));
      assert.ok(afterReload.every((body) => body.startsWith("v2 ")), `answers after the reload: ${afterReload}`);
      assert.deepEqual(clients.map((c) => c.connections), clients.map(() => 1), "each answered on its first connection");
      clients.forEach((c) => c.close());
      fixture.signal("SIGTERM");
      assert.equal((await fixture.exit(15_000)).code, 0);
    });

    it("ASigtermWhileTheReloadsNewWorkerStillLoadsIsACleanDrainThatDoesNotWaitForIt", async () => {
      const entry = `test/fixtures/.reload-hang-${runtime.name}-${process.pid}.ts`;
      const file = path.join(ROOT, entry);
      copyFileSync(path.join(ROOT, "test/fixtures/workers.ts"), file);
      cleanup.push(() => rmSync(file, { force: true }));
      const timeout = 8_000;
      const fixture = new Fixture(runtime, entry, { workers: 2, timeout });
      cleanup.push(() => fixture.kill());
      const listening = await fixture.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
      const oldPids = listening.pids as number[];
      cleanup.push(() => oldPids.forEach((pid) => alive(pid) && process.kill(pid, "SIGKILL")));
      // The entry on disk now never finishes loading (its top-level await waits on nothing, a timer runs).
      const source = readFileSync(file, "utf8");
      const hang = 'emit("loading.forever", { pid });\nawait new Promise(() => setInterval(() => {}, 1_000));\n';
      writeFileSync(file, source.replace("const app = new Hono();", `${hang}const app = new Hono();`));
      fixture.signal("SIGHUP");
      const loading = await fixture.waitFor((l) => l.fixture === "loading.forever", 20_000, "the new worker to load");
      cleanup.push(() => alive(loading.pid as number) && process.kill(loading.pid as number, "SIGKILL"));
      const signalledAt = performance.now();
      fixture.signal("SIGTERM");
      const exit = await fixture.exit(timeout + 5_000);
      // It used to wait for the deadline and the kill (10 s here), then exit 1 for a worker that served nothing.
      assert.equal(exit.code, 0);
      assert.ok(performance.now() - signalledAt < timeout, `exited ${Math.round(performance.now() - signalledAt)} ms after the signal`);
      const end = fixture.lines.find((l) => l.event === "drain.end")!;
      const outcomes = Object.fromEntries((end.workers as { pid: number; outcome: string }[]).map((w) => [w.pid, w.outcome]));
      assert.deepEqual(outcomes, { [oldPids[0]!]: "stopped", [oldPids[1]!]: "stopped", [loading.pid as number]: "skipped" });
      assert.equal(alive(loading.pid as number), false);
    });
  });
}

/** One health check as a balancer makes it: a new connection, GET /readyz; the status, or the error's code. */
function readyz(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/readyz", agent: false, timeout: 5_000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
