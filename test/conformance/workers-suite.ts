/**
 * `workers: 2` on Node, Bun and Deno, from the outside: one signal drains every worker once, one
 * report adds them up, crashes outside a drain are restarted, none during it, a killed primary
 * leaves no process behind, a port in use is one line and exit 1, and `"auto"` follows the
 * affinity mask that `taskset` sets.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { after, describe, it } from "node:test";
import { Fixture, type Line, type Runtime, selectedRuntimes } from "../support/harness.ts";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { KeepAliveClient } from "../support/keepalive-client.ts";
import { alive } from "../support/processes.ts";

const FIXTURE = "test/fixtures/workers.ts";
/** New connections opened at once (a balancer's pool refilled, a thundering herd). */
const BURST = 3_000;
/** Streaming responses in flight at a signal, on kept-alive connections. */
const STREAMS = 4;
/** A client pool's idle connections, used as the drain's held answers come. */
const IDLE_POOLED = 20;
/** How long after an answer those connections are used (under REQUEST_GRACE_MS, 100 ms). */
const CLIENT_TURNAROUND_MS = 30;
const started: Fixture[] = [];
const pids = new Set<number>();
after(() => {
  for (const fixture of started) fixture.kill();
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
});

/** Waits (bounded) until `check` holds, polling every 20 ms. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Started {
  fixture: Fixture;
  port: number;
  workerPids: number[];
}

/** Starts the fixture with workers and waits for the primary's one `listening` line. */
async function start(runtime: Runtime, options: Record<string, unknown>, detached = false): Promise<Started> {
  const fixture = new Fixture(runtime, FIXTURE, { workers: 2, timeout: 8_000, ...options }, {}, detached);
  started.push(fixture);
  const line = await fixture.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
  const workerPids = line.pids as number[];
  for (const pid of workerPids) pids.add(pid);
  return { fixture, port: line.port as number, workerPids };
}

/** One keep-alive connection to each worker (found by asking who answers; the balancing decides). */
async function connectionPerWorker(port: number, workerPids: number[]): Promise<Map<number, KeepAliveClient>> {
  const found = new Map<number, KeepAliveClient>();
  for (let attempt = 0; attempt < 60 && found.size < workerPids.length; attempt++) {
    const client = new KeepAliveClient(port);
    const answer = await client.request("/");
    const pid = Number(answer.body.split(" ")[1]);
    if (found.has(pid)) client.close();
    else found.set(pid, client);
  }
  assert.equal(found.size, workerPids.length, "every worker answered on some connection");
  return found;
}

const reportLines = (fixture: Fixture): Line[] => fixture.lines.filter((l) => l.event === "drain.end");

/**
 * A process's threads that run a Worker: Bun names the thread `Worker`, Deno `worker-N`. A worker
 * whose primary lives arms no watchdog of its own (Deno's held its event loop ~40 ms at the drain's
 * first moment); Node's is a worker thread, armed only for a logger that flushes at the exit.
 */
function workerThreads(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`)
    .map((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").trim();
      } catch {
        return ""; // the thread ended meanwhile
      }
    })
    .filter((name) => /^(Worker|worker-\d+)$/.test(name));
}

/** What one request on a new connection got: answered, refused (never reached a server), or failed after it connected. */
function requestOnNewConnection(port: number): Promise<"answered" | "refused" | "failed"> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let connected = false;
    let got = "";
    const end = (outcome: "answered" | "refused" | "failed") => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(5_000, () => end("failed"));
    socket.on("connect", () => {
      connected = true;
      socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    socket.on("data", (chunk) => {
      got += chunk;
      if (/^HTTP\/1\.1 200 [^]*\r\n\r\nv1 \d+$/.test(got)) end("answered");
    });
    socket.on("error", () => end(connected ? "failed" : "refused"));
    socket.on("close", () => end(connected ? "failed" : "refused"));
  });
}

/** The body each keep-alive POST sends (and /echo answers). */
const POST_BODY = "x".repeat(1_024);

/**
 * A keep-alive POST's outcome. Told apart, the idle-close race: a failure on a reused connection,
 * and on a new connection that the client left without its request longer than the hold's quiet.
 */
type PostOutcome = "answered" | "refused" | "failed" | "failed on a reused connection" | "failed on a new connection left idle";

/**
 * A keep-alive client (a new connection after `Connection: close` or a failure) that POSTs in a
 * loop until `done()` (or `until`, performance.now()). Each request's outcome: answered, refused
 * (ECONNREFUSED: it never reached a server), or failed (a reset, a close or silence after it
 * connected), on a new or a reused connection. `closesUnsentNew`: the server closes, at its stop, a
 * new connection that has sent no request (Bun and Deno; Node waits 100 ms for it).
 */
async function postInALoop(
  port: number,
  done: () => boolean,
  until: number,
  closesUnsentNew: boolean,
  outcome: (o: PostOutcome) => void,
) {
  const client = new KeepAliveClient(port);
  while (!done() && performance.now() < until) {
    const connections = client.connections;
    const began = performance.now();
    let written = began;
    let result: PostOutcome;
    try {
      await client.connect(); // apart, to know when the request is written (request() writes at once)
      written = performance.now();
      const answer = await client.request("/echo", 5_000, POST_BODY);
      result = answer.status === 200 && answer.body === POST_BODY ? "answered" : "failed";
    } catch (error) {
      const closed = !client.open; // by the server: a timeout leaves the connection open
      client.close();
      const fresh = client.connections !== connections;
      // A new connection left without its request past QUIET_MS (the client's event loop stalled:
      // 8-16 ms seen beside two CPU-bound loops) can outlast the hold, and Bun's stop() closes it as
      // it closes every connection that has not sent a request (runtime-notes.md): the request,
      // written after that close, is reset, as on a reused connection.
      const idle = closesUnsentNew && fresh && closed && written - began > QUIET_MS;
      result = (error as NodeJS.ErrnoException).code === "ECONNREFUSED"
        ? "refused"
        : !fresh
        ? "failed on a reused connection"
        : idle
        ? "failed on a new connection left idle"
        : "failed";
    }
    outcome(result);
    if (result === "refused") await new Promise((resolve) => setTimeout(resolve, 5));
  }
  client.close();
}

/**
 * The suite on one runtime (when SG_RUNTIMES selects it). Each runtime has its own test file, so
 * that the three run side by side and each stays far under the per-file timeout on a busy machine
 * (in one file, Node's slow starts of three processes took the whole file past 180 s at load 7).
 */
export function describeWorkers(runtimeName: Runtime["name"]): void {
  for (const runtime of selectedRuntimes().filter((r) => r.name === runtimeName)) {
    describe(`workers on ${runtime.name}`, { concurrency: false }, () => {
      it("SigtermToThePrimaryDrainsEveryWorkerOnceWithOneReport", async () => {
        const { fixture, port, workerPids } = await start(runtime, { drainDelay: 600 });
        const slowOn = await connectionPerWorker(port, workerPids);
        const healthOn = await connectionPerWorker(port, workerPids);
        const slow = [...slowOn.values()].map((client) => client.request("/slow?ms=1500"));
        await fixture.waitFor(() => fixture.lines.filter((l) => l.fixture === "slow.start").length >= 2, 10_000, "both slow requests");
        fixture.signal("SIGTERM");
        await fixture.waitFor((l) => l.event === "drain.start" && l.pids !== undefined, 5_000, "the primary's drain.start");
        await until(() => fixture.lines.filter((l) => l.event === "drain.start").length >= 3, 5_000, "every worker's drain.start");
        // Inside the drain delay: every worker answers /readyz with 503 on its open connection.
        const health = await Promise.all([...healthOn.values()].map((client) => client.request("/readyz")));
        assert.deepEqual(health.map((a) => a.status), [503, 503]);
        for (const pid of workerPids) assert.deepEqual(workerThreads(pid), [], `worker ${pid}: no watchdog thread while its primary lives`);
        const answers = await Promise.all(slow);
        assert.deepEqual(answers.map((a) => a.status), [200, 200]);
        const exit = await fixture.exit(15_000);
        assert.equal(exit.code, 0);
        const reports = reportLines(fixture);
        assert.equal(reports.length, 1, "one report line, the primary's");
        const report = reports[0]!;
        assert.equal(report.forced, false);
        assert.equal((report.requests as { served: number }).served >= 2, true);
        assert.deepEqual(
          (report.workers as { pid: number; outcome: string }[]).map((w) => [w.pid, w.outcome]).sort(),
          workerPids.map((pid) => [pid, "stopped"]).sort(),
        );
        for (const client of [...slowOn.values(), ...healthOn.values()]) client.close();
      });

      it("AResponseStreamingAtTheSignalOnAKeptAliveConnectionEndsTheDrainAsItEnds", async () => {
        // Its answer began before the drain, so without `Connection: close`: a Node worker left the
        // connection open and idle once the stream ended, and every reload and SIGTERM waited for the
        // deadline (forced, exit 1; an outside probe).
        const { fixture, port } = await start(runtime, {});
        const agent = new http.Agent({ keepAlive: true, maxSockets: STREAMS });
        const streamAll = () =>
          Array.from({ length: STREAMS }, () =>
            new Promise<string>((resolve, reject) => {
              http.get({ port, host: "127.0.0.1", path: "/stream?ms=1500", agent }, (res) => {
                let body = "";
                res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on(
                  "end",
                  () => resolve(`${res.statusCode} ${body}`),
                );
              }).on("error", reject);
            }));
        const streamsStarted = async (count: number) =>
          await fixture.waitFor(
            () => fixture.lines.filter((l) => l.fixture === "stream.start").length >= count,
            10_000,
            `${count} streams`,
          );
        try {
          let streams = streamAll();
          await streamsStarted(STREAMS);
          fixture.signal("SIGHUP");
          for (const body of await Promise.all(streams)) assert.match(body, /^200 [^]*done\n$/);
          const reload = await fixture.waitFor((l) => l.event === "reload" || l.event === "reload.failed", 30_000, "the reload line");
          assert.equal(reload.event, "reload", JSON.stringify(reload));
          // Clean: no old worker forced at its deadline (the reload's own duration also counts the new
          // workers' starts, 10 s for two Node workers at load 10, so it is no measure of that).
          assert.equal(reload.level, "info", `a clean reload: ${JSON.stringify(reload)}`);
          streams = streamAll();
          await streamsStarted(2 * STREAMS);
          fixture.signal("SIGTERM");
          for (const body of await Promise.all(streams)) assert.match(body, /^200 [^]*done\n$/);
          const exit = await fixture.exit(15_000);
          assert.equal(exit.code, 0);
          const report = reportLines(fixture)[0]!;
          assert.equal(report.forced, false);
          assert.ok((report.durationMs as number) < 6_000, `the drain waited for the deadline: ${report.durationMs} ms`);
        } finally {
          agent.destroy();
        }
      });

      /**
       * One stop for the test below: the pooled connections' outcomes, or undefined when no answer was
       * held (every feeder came too late for the hold: a stalled client on a loaded machine).
       */
      async function pooledThroughHeldAnswers(): Promise<{ outcomes: string[]; story: string } | undefined> {
        const { fixture, port } = await start(runtime, { drainDelay: 0 });
        const idle = Array.from({ length: IDLE_POOLED }, () => new KeepAliveClient(port));
        for (const client of idle) assert.equal((await client.request("/")).status, 200);
        const sent = fixture.signal("SIGTERM");
        // New keep-alive connections, one every 3 ms: each request is held, and the hold goes on.
        let released = false;
        let firstAnswer!: () => void;
        const answered = new Promise<void>((resolve) => (firstAnswer = resolve));
        const feeders: KeepAliveClient[] = [];
        const requests: Promise<void>[] = [];
        const feeding = (async () => {
          for (let i = 0; i < 100 && !released && performance.now() - sent < 400; i++) {
            const feeder = new KeepAliveClient(port);
            feeders.push(feeder);
            // Only an answer with Connection: close is one the drain held. One given before the worker
            // heard of the drain (Deno's workers hear it 5-20 ms after the primary's signal, over their
            // loopback channel) is ordinary: timed from it, the pool's requests came as the workers'
            // shutdown() closed idle connections, the race any HTTP/1.1 server has (26 of 35 Deno runs
            // timed so, 5 of them failed; 0 failed of the 9 timed from a held answer).
            requests.push(
              feeder.request("/").then((answer) => {
                if (answer.headers.connection?.toLowerCase() !== "close") return;
                released = true;
                firstAnswer();
              }, () => {}),
            );
            await new Promise((resolve) => setTimeout(resolve, 3));
          }
        })();
        // Every feeder's request settles within its own 5 s limit.
        const held = await Promise.race([answered.then(() => true), feeding.then(() => Promise.all(requests)).then(() => false)]);
        let outcomes: string[] = [];
        if (held) {
          // Used CLIENT_TURNAROUND_MS after the first held answer arrives: a pool's next requests, from a
          // client that reads the answer first (undici's came tens of ms later on a busy machine).
          await new Promise((resolve) => setTimeout(resolve, CLIENT_TURNAROUND_MS));
          outcomes = await Promise.all(idle.map(async (client) => {
            // Closed before this request was written (Bun and Deno close idle connections with the listener): no loss.
            if (!client.open) return "closed before";
            return await client.request("/", 5_000).then((a) => `${a.status}`, (e: Error) => `failed: ${e.message}`);
          }));
        }
        await feeding;
        for (const client of [...idle, ...feeders]) client.close();
        assert.equal((await fixture.exit(15_000)).code, 0);
        return held ? { outcomes, story: `${outcomes.join(", ")} (${Math.round(performance.now() - sent)} ms)` } : undefined;
      }

      it("ARequestOnAnIdlePooledConnectionSentAsTheHeldAnswersComeIsAnswered", async (t) => {
        // A client waiting on answers the hold keeps back sends nothing meanwhile; once they come (with
        // Connection: close), its next requests go on its other pooled connections, idle since before
        // the hold and past the 100 ms grace by then. Node's workers closed those as the requests came
        // (an outside probe: 1-4 reset in 16 of 34 stops, a drain waiting on a reload's hold).
        for (let attempt = 1; attempt <= 3; attempt++) {
          const stop = await pooledThroughHeldAnswers();
          if (stop === undefined) {
            t.diagnostic(`!!! stop ${attempt}: no answer was held (the feeders came too late for the hold): again`);
            continue;
          }
          // Without the fix this failed on Node in 3 runs of 3 on a loaded machine, 1 of 6 on a quiet
          // one (the others: a short hold, or closes that came before the requests were written, no
          // loss). Asserting that every one is answered instead failed once with the fix beside
          // another npm test: a client stalled past the 100 ms grace.
          return assert.deepEqual(stop.outcomes.filter((o) => o.startsWith("failed")), [], stop.story);
        }
        assert.fail("no answer was held in 3 stops");
      });

      it("AnUncaughtExceptionInThePrimaryDrainsEveryWorkerWithOneReportAndExits1", async () => {
        const { fixture, port, workerPids } = await start(runtime, { primaryThrowsOn: "SIGUSR2" });
        const slowOn = await connectionPerWorker(port, workerPids);
        const slow = [...slowOn.values()].map((client) => client.request("/slow?ms=1500"));
        await fixture.waitFor(() => fixture.lines.filter((l) => l.fixture === "slow.start").length >= 2, 10_000, "both slow requests");
        fixture.signal("SIGUSR2");
        // It ended the primary at once with the runtime's own crash: no drain, no report; on Deno
        // the workers died with it and both requests were reset.
        const answers = await Promise.all(slow);
        assert.deepEqual(answers.map((a) => a.status), [200, 200]);
        const exit = await fixture.exit(15_000);
        assert.equal(exit.code, 1);
        // Deno reports a throw in a signal listener as an unhandled rejection (its signal loop is async).
        const logged = (l: Line) =>
          /^(uncaughtException|unhandledRejection)$/.test(String(l.event)) && /primary's own listener/.test(String(l.msg));
        assert.ok(fixture.lines.some(logged), "the primary's error is logged");
        const reports = reportLines(fixture);
        assert.equal(reports.length, 1, "one report line, the primary's");
        assert.equal(reports[0]!.reason, "error");
        assert.deepEqual((reports[0]!.workers as { outcome: string }[]).map((w) => w.outcome), ["stopped", "stopped"]);
        for (const pid of workerPids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
        for (const client of slowOn.values()) client.close();
      });

      it("TheSameSignalToTheWholeProcessGroupIsOneDrainNotForced", async () => {
        const { fixture, port, workerPids } = await start(runtime, { drainDelay: 300 }, true);
        const slowOn = await connectionPerWorker(port, workerPids);
        const slow = [...slowOn.values()].map((client) => client.request("/slow?ms=1200"));
        await fixture.waitFor(() => fixture.lines.filter((l) => l.fixture === "slow.start").length >= 2, 10_000, "both slow requests");
        process.kill(-fixture.child.pid!, "SIGINT"); // Ctrl+C: the primary and every worker at once
        assert.deepEqual((await Promise.all(slow)).map((a) => a.status), [200, 200]);
        const exit = await fixture.exit(15_000);
        assert.equal(exit.code, 0);
        assert.equal(fixture.lines.some((l) => l.event === "drain.forced"), false, "no line says forced");
        const report = reportLines(fixture)[0]!;
        assert.equal(report.forced, false);
        assert.equal(report.exitCode, 0);
        for (const client of slowOn.values()) client.close();
      });

      it("CtrlCBeforeAnyWorkerListensIsOneDrainNotForced", async () => {
        // Every worker is still starting its part: each takes the group's SIGINT itself, and the
        // primary must not send it a signal of its own (a second signal: forced, exit 1).
        const fixture = new Fixture(runtime, FIXTURE, { workers: 2, timeout: 8_000, slowPart: 1_500 }, {}, true);
        started.push(fixture);
        await fixture.waitFor((l) => l.fixture === "slow-part.start", 30_000, "a worker's part to start");
        process.kill(-fixture.child.pid!, "SIGINT");
        const exit = await fixture.exit(15_000);
        assert.equal(fixture.lines.some((l) => l.event === "drain.forced"), false, "no line says forced");
        assert.equal(exit.code, 0);
        const report = reportLines(fixture)[0]!;
        assert.equal(report.forced, false);
      });

      it("AReloadSignalToTheWholeProcessGroupKillsNoWorkerStillLoadingItsEntry", async () => {
        // A terminal's hangup or `kill -HUP -PGID` as a worker awaits its configuration, before
        // serveGracefully: ignored there only once that ran, it killed the worker (its default
        // action), and the whole start failed, exit 1.
        const fixture = new Fixture(runtime, FIXTURE, { workers: 2, timeout: 8_000, slowStart: { slot: 1, ms: 1_500 } }, {}, true);
        started.push(fixture);
        await fixture.waitFor((l) => l.fixture === "slow-start.start", 30_000, "a worker to begin its slow start");
        // Both have loaded the library (before that, the runtime's own start is a window no library closes).
        await until(() => fixture.lines.filter((l) => l.fixture === "worker.entry").length >= 2, 30_000, "both workers' entries");
        process.kill(-fixture.child.pid!, "SIGHUP");
        const line = await fixture.waitFor((l) => l.event === "listening" || l.event === "start.failed", 30_000, "the start's end");
        assert.equal(line.event, "listening", JSON.stringify(line));
        assert.equal(line.workers, 2);
        for (const pid of line.pids as number[]) pids.add(pid);
        assert.ok(fixture.lines.some((l) => l.event === "reload.skipped"), "the primary says it skipped the reload");
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
      });

      it("APartAddedATurnBeforeServeGracefullyRunsInEachWorkerAndIsStoppedInThePrimary", async () => {
        const { fixture, workerPids } = await start(runtime, { awaitedPart: true });
        const primary = fixture.child.pid!;
        const seen = (event: string, pid: number) => fixture.lines.some((l) => l.fixture === event && l.pid === pid);
        await until(() => seen("consumer.stop", primary), 10_000, "the primary to stop the part it had started");
        const warning = fixture.lines.find((l) => l.event === "workers.parts-in-primary");
        assert.equal(warning?.level, "warn");
        assert.deepEqual(warning?.parts, ["consumer"]);
        await until(() => workerPids.every((pid) => seen("consumer.start", pid)), 10_000, "each worker to start the part");
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
        await until(() => workerPids.every((pid) => seen("consumer.stop", pid)), 5_000, "each worker's stop of the part in its drain");
        const primaryLines = fixture.lines.filter((l) => l.pid === primary && String(l.fixture).startsWith("consumer.")).map((l) =>
          l.fixture
        );
        assert.deepEqual(primaryLines, ["consumer.start", "consumer.stop"], "the primary ran it once, before it knew, and stopped it");
      });

      it("AWorkerKilledOutsideADrainIsRestartedAndServes", async () => {
        const { fixture, port, workerPids } = await start(runtime, {});
        const [victim, survivor] = workerPids as [number, number];
        process.kill(victim, "SIGKILL");
        const exited = await fixture.waitFor((l) => l.event === "worker.exited" && l.worker === victim, 10_000, "worker.exited");
        assert.equal(exited.signal, "SIGKILL");
        const restarted = await fixture.waitFor((l) => l.event === "worker.restarted", 20_000, "worker.restarted");
        const fresh = restarted.worker as number;
        pids.add(fresh);
        assert.notEqual(fresh, victim);
        // The new worker answers (both workers are found again).
        const clients = await connectionPerWorker(port, [survivor, fresh]);
        assert.deepEqual([...clients.keys()].sort(), [survivor, fresh].sort());
        for (const client of clients.values()) client.close();
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
        assert.equal(alive(victim), false);
      });

      it("EveryWorkerKilledAtOnceIsRestartedOnTheSamePort", async () => {
        // node:cluster with port 0 shares a socket only while a worker holds it: the restarts must
        // ask for the port the primary announced, not 0 again (a new random port).
        const { fixture, port, workerPids } = await start(runtime, {});
        for (const pid of workerPids) process.kill(pid, "SIGKILL");
        await until(() => fixture.lines.filter((l) => l.event === "worker.restarted").length === 2, 20_000, "two restarts");
        const fresh = fixture.lines.filter((l) => l.event === "worker.restarted").map((l) => l.worker as number);
        for (const pid of fresh) pids.add(pid);
        const clients = await connectionPerWorker(port, fresh);
        for (const client of clients.values()) client.close();
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
      });

      it("AWorkerThatDiesAfterItListenedBeforeTheOtherListensFailsTheStart", async () => {
        const fixture = new Fixture(runtime, FIXTURE, {
          workers: 2,
          timeout: 8_000,
          // A second after it listened: its `listening` message is at the primary by then even on a
          // saturated machine (100 ms was not, once: "exited with code 3 before it listened").
          crashAfterListening: { slot: 0, ms: 1_000 },
          slowStart: { slot: 1, ms: 4_000 },
        });
        started.push(fixture);
        const exit = await fixture.exit(20_000);
        assert.equal(exit.code, 1);
        const failed = fixture.lines.filter((l) => l.event === "start.failed");
        assert.equal(failed.length, 1);
        assert.match(String(failed[0]!.msg), /exited with code 3 after it listened, before every worker listened/);
        assert.equal(fixture.lines.some((l) => l.event === "listening" && l.workers !== undefined), false, "never announced");
        assert.equal(fixture.lines.some((l) => l.event === "worker.restarted"), false, "no restart");
      });

      it("AWorkerKilledDuringTheDrainIsNotRestartedAndTheExitIs1", async () => {
        const { fixture, port, workerPids } = await start(runtime, { drainDelay: 300 });
        const slowOn = await connectionPerWorker(port, workerPids);
        const [victim] = workerPids as [number];
        const slow = slowOn.get(victim)!.request("/slow?ms=3000").catch((error: Error) => error);
        await fixture.waitFor((l) => l.fixture === "slow.start" && l.pid === victim, 10_000, "the slow request on the victim");
        fixture.signal("SIGTERM");
        await fixture.waitFor((l) => l.event === "drain.start" && l.pids !== undefined, 5_000, "the primary's drain.start");
        process.kill(victim, "SIGKILL");
        const exit = await fixture.exit(15_000);
        assert.equal(exit.code, 1);
        assert.ok(await slow instanceof Error, "the killed worker's request did not get an answer");
        assert.equal(fixture.lines.some((l) => l.event === "worker.restarted" || l.event === "worker.exited"), false, "no restart");
        const report = reportLines(fixture)[0]!;
        const outcomes = Object.fromEntries((report.workers as { pid: number; outcome: string }[]).map((w) => [w.pid, w.outcome]));
        assert.equal(outcomes[victim], "killed");
        for (const client of slowOn.values()) client.close();
      });

      it("AKilledPrimaryLeavesNoProcessAndNoListenerBehind", async () => {
        const timeout = 3_000;
        const { fixture, port, workerPids } = await start(runtime, { timeout });
        const killedAt = performance.now();
        fixture.signal("SIGKILL");
        await until(() => workerPids.every((pid) => !alive(pid)), timeout + 3_000, "every worker to exit");
        assert.ok(performance.now() - killedAt < timeout + 3_000);
        // Nobody keeps the port.
        const refused = await new Promise<boolean>((resolve) => {
          const socket = net.connect(port, "127.0.0.1");
          socket.once("connect", () => (socket.destroy(), resolve(false)));
          socket.once("error", () => resolve(true));
        });
        assert.equal(refused, true, "the port is free");
      });

      it("AWorkerStillStartingWhenThePrimaryIsKilledEndsLongBeforeItsDeadline", async () => {
        // Slot 1 loads slowly; the primary is killed before it listens: the worker finds no primary
        // when it comes to serve, and ends (nothing of its own to drain) instead of serving orphaned
        // or waiting for its 20 s deadline.
        const timeout = 20_000;
        const fixture = new Fixture(runtime, FIXTURE, { workers: 2, timeout, slowStart: { slot: 1, ms: 1_500 } });
        started.push(fixture);
        await fixture.waitFor((l) => l.fixture === "listening", 30_000, "the first worker to listen");
        const children = () =>
          readFileSync(`/proc/${fixture.child.pid}/task/${fixture.child.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(
            Number,
          );
        // With reusePort the second starts once the first listens (on the port it got).
        await until(() => children().length === 2, 10_000, "the second worker to start");
        const workerPids = children();
        for (const pid of workerPids) pids.add(pid);
        assert.ok(!fixture.lines.some((l) => l.event === "listening"), "the primary has not said listening: one still starts");
        const killedAt = performance.now();
        fixture.signal("SIGKILL");
        await until(() => workerPids.every((pid) => !alive(pid)), 10_000, "every worker to exit");
        assert.ok(performance.now() - killedAt < timeout / 2, "long before the deadline");
      });

      it("OneWorkerSkipsTheReloadSignalAndServesOn", async () => {
        // systemctl reload on a host where "auto" gives 1: the signal's default action ended the
        // process, cutting the request in flight.
        const fixture = new Fixture(runtime, FIXTURE, { workers: 1, timeout: 8_000 });
        started.push(fixture);
        const listening = await fixture.waitFor((l) => l.event === "listening", 30_000, "the listening line");
        const client = new KeepAliveClient(listening.port as number);
        const slow = client.request("/slow?ms=600", 10_000);
        await fixture.waitFor((l) => l.fixture === "slow.start", 10_000, "the slow request to start");
        fixture.signal("SIGHUP");
        const skipped = await fixture.waitFor((l) => l.event === "reload.skipped", 10_000, "the reload.skipped line");
        assert.match(String(skipped.msg), /one process/);
        assert.equal((await slow).status, 200);
        assert.equal((await client.request("/")).status, 200, "still serving");
        client.close();
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
      });

      it("AStopRefusesNewConnectionsAfterItInsteadOfResettingThem", async (t) => {
        // Clients that open a new connection for every request, as a proxy without health checks does
        // (every answer in a drain says Connection: close), through SIGTERM: every connection that
        // reached the workers is answered, the rest are refused. Before: node:cluster's primary closed
        // the connections it had accepted and not handed over with its listener, and a worker whose
        // listener had closed released its held answers at once, so its clients reconnected into
        // another worker's listener about to close (Node 3-15, Bun 23-28 failed per 6 stops).
        const outcomes: Record<string, number> = {};
        for (let stop = 0; stop < 6; stop++) {
          const { fixture, port } = await start(runtime, { drainDelay: 200 });
          let signalled = false;
          let refusedAfter = 0;
          let refusedBefore = 0;
          let answered = 0;
          const began = performance.now();
          const loops = Array.from({ length: 12 }, async () => {
            // Until refused after the signal, 10 s at most.
            while (refusedAfter < 12 && performance.now() - began < 10_000) {
              const outcome = await requestOnNewConnection(port);
              outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
              if (outcome === "answered") answered++;
              if (outcome === "refused") {
                if (!signalled) refusedBefore++;
                refusedAfter++;
                await new Promise((resolve) => setTimeout(resolve, 5));
              }
            }
          });
          await until(() => answered >= 200, 10_000, "answers before the signal");
          signalled = true;
          fixture.signal("SIGTERM");
          assert.equal((await fixture.exit(15_000)).code, 0);
          await Promise.all(loops);
          assert.equal(refusedBefore, 0, "refused before the signal");
        }
        t.diagnostic(`new connections through 6 stops ${JSON.stringify({ runtime: runtime.name, ...outcomes })}`);
        // Deno's shutdown(), its only way to close a listener, drops the connections that have not yet
        // delivered a request: 0 on a quiet machine, 3-12 per 6 stops beside two CPU-bound loops, the
        // code before this session alike (0-10). Node and Bun: 0.
        const allowed = runtime.name === "deno" ? Math.floor((outcomes.answered ?? 0) / 100) : 0;
        assert.ok((outcomes.failed ?? 0) <= allowed, `failed after they connected (at most ${allowed}): ${JSON.stringify(outcomes)}`);
        assert.ok((outcomes.answered ?? 0) >= 1_200, JSON.stringify(outcomes));
      });

      it("KeepAliveClientsPostingThroughAStopAreAnsweredOrRefusedNeverReset", async (t) => {
        // Keep-alive clients sending POSTs back to back, straight to the server, through SIGTERM. Before:
        // Deno's close waited for the held answers of requests with a body before its shutdown(), so
        // the listeners stayed open while those answers went out, their clients reconnected into
        // them, and shutdown() reset the new connections (Deno only: 1-8 resets in 2 of 3 stops).
        // A client stalled longer than the hold's quiet time (a loaded machine) can still meet the
        // close on its reused connection: the idle-close race, counted apart and not asserted. So can
        // its reconnect: into the other worker's listener, still open in its hold, and left without
        // its request past that hold (Bun, two CPU-bound loops beside: 1 run in 15-20 failed so).
        const outcomes: Record<string, number> = {};
        for (let stop = 0; stop < 6; stop++) {
          const { fixture, port } = await start(runtime, {});
          let signalled = false;
          let refusedBefore = 0;
          let answered = 0;
          let refusedAfter = 0;
          const deadline = performance.now() + 10_000;
          const loops = Array.from({ length: 10 }, () => {
            let refused = false; // each client stops at its first refusal after the signal
            return postInALoop(port, () => refused, deadline, runtime.name !== "node", (outcome) => {
              outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
              if (outcome === "answered") answered++;
              if (outcome !== "refused") return;
              if (!signalled) return void refusedBefore++;
              refused = true;
              refusedAfter++;
            });
          });
          await until(() => answered >= 300, 10_000, "answers before the signal");
          signalled = true;
          fixture.signal("SIGTERM");
          assert.equal((await fixture.exit(15_000)).code, 0);
          await Promise.all(loops);
          assert.equal(refusedBefore, 0, "refused before the signal");
          assert.equal(refusedAfter, 10, "every client refused once the server is gone");
        }
        t.diagnostic(`keep-alive POSTs through 6 stops ${JSON.stringify({ runtime: runtime.name, ...outcomes })}`);
        assert.equal(outcomes.failed ?? 0, 0, `failed after they connected: ${JSON.stringify(outcomes)}`);
      });

      it("ABurstOfThreeThousandNewConnectionsIsAnsweredEveryOne", async () => {
        // Node's primary keeps what no worker can take yet: it closed every connection beyond 1,024
        // (166-611 of a burst of 3,000 went unanswered); bare node:cluster, Bun and Deno drop none.
        const { fixture, port } = await start(runtime, {});
        const outcomes = await Promise.all(Array.from({ length: BURST }, () => requestOnNewConnection(port)));
        const counts: Record<string, number> = {};
        for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
        assert.deepEqual(counts, { answered: BURST });
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(15_000)).code, 0);
      });

      it("AStalledWorkerGetsFewConnectionsAndThoseWaitingForItGoToAnotherWhenItDies", async (t) => {
        // Node's primary hands each connection over itself: one to a worker whose event loop does not
        // run waits in the channel, unacknowledged, and the next ones go elsewhere. When that worker
        // dies, what waited for it goes to another worker (Node drops the channel's queue unsent).
        // Bun and Deno: the kernel balances reusePort listeners, a stopped one included.
        if (runtime.name !== "node") return t.skip("the kernel balances reusePort listeners");
        const { fixture, port, workerPids } = await start(runtime, {});
        const [stalled] = workerPids as [number];
        process.kill(stalled, "SIGSTOP");
        try {
          const clients = [];
          let settled = 0;
          for (let i = 0; i < 20; i++) {
            clients.push(requestOnNewConnection(port).finally(() => settled++));
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          // The worker that runs has answered its share (half, in strict turns) before the other dies.
          await until(() => settled >= 10, 5_000, "the running worker's answers");
          process.kill(stalled, "SIGKILL");
          // Bounded by each client's own 5 s limit: a connection left waiting counts as failed.
          const outcomes = await Promise.all(clients);
          const answered = outcomes.filter((o) => o === "answered").length;
          // At most one can be lost with the worker: written to its channel, never read.
          assert.ok(answered >= 19, `answered ${answered} of 20: ${outcomes.join(", ")}`);
        } finally {
          if (alive(stalled)) process.kill(stalled, "SIGKILL");
        }
        fixture.signal("SIGTERM");
        await fixture.exit(15_000);
      });

      it("APortInUseExits1WithOneLine", async () => {
        const holder = net.createServer();
        await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
        const port = (holder.address() as net.AddressInfo).port;
        try {
          const fixture = new Fixture(runtime, FIXTURE, { workers: 2, port, timeout: 5_000 });
          started.push(fixture);
          const exit = await fixture.exit(30_000);
          assert.equal(exit.code, 1);
          const logLines = fixture.lines.filter((l) => typeof l.event === "string");
          assert.equal(logLines.length, 1, `one log line, got:\n${logLines.map((l) => JSON.stringify(l)).join("\n")}`);
          assert.equal(logLines[0]!.event, "start.failed");
          assert.match(String(logLines[0]!.msg), /in use|EADDRINUSE/);
        } finally {
          holder.close();
        }
      });

      // Deno's workers talk to their primary over a loopback connection: without --allow-net (granted
      // whole, as the workers get it) the call says so and nothing starts.
      it("DenoWithoutAllowNetSaysSoAndStartsNothing", { skip: runtime.name !== "deno" && "Deno only" }, async () => {
        const withoutNet: Runtime = { ...runtime, args: (file) => ["run", "--allow-env", "--allow-run", "--allow-read", "--quiet", file] };
        const fixture = new Fixture(withoutNet, FIXTURE, { workers: 2, timeout: 3_000 });
        started.push(fixture);
        const exit = await fixture.exit(30_000);
        assert.equal(exit.code, 1);
        assert.match(fixture.stderr.join(""), /Deno needs --allow-env, --allow-run and --allow-net to start workers/);
        assert.ok(!fixture.lines.some((l) => l.event === "listening" || l.fixture === "listening"), "nothing listened");
      });

      it("AutoFollowsTheAffinityMaskFromTaskset", { skip: !hasTaskset() && "taskset is not installed" }, async () => {
        const pinned: Runtime = { ...runtime, command: "taskset", args: (file) => ["-c", "0", runtime.command, ...runtime.args(file)] };
        const fixture = new Fixture(pinned, FIXTURE, { workers: "auto", timeout: 3_000 });
        started.push(fixture);
        // One CPU allowed: one process, no primary; its listening line says why.
        const line = await fixture.waitFor((l) => l.event === "listening", 30_000, "the listening line");
        assert.equal(line.workers, 1);
        assert.match(String(line.workersFrom), /affinity/);
        fixture.signal("SIGTERM");
        assert.equal((await fixture.exit(10_000)).code, 0);
      });
    });
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
}
