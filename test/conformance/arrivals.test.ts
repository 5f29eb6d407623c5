/**
 * Every request that reaches the server gets its answer, and the report counts what clients got:
 * pipelined requests, an upload still arriving at the signal, connections accepted as the listener
 * closes. Same fixture on Node, Bun and Deno, real sockets, real signals.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Connection, type RawResponse, refused } from "../support/client.ts";
import { type ArrivalCounts, measureArrivals } from "../support/arrivals-load.ts";
import { fixtureStarter, selectedRuntimes } from "../support/harness.ts";
import { REQUEST_GRACE_MS } from "../../src/drain/request-grace.ts";
import { CATCH_UP_MAX_MS } from "../../src/drain/hold.ts";

const SERVER = "test/fixtures/server.ts";
const start = fixtureStarter(SERVER);

/** New connections a second through the close, and the drain delay before it (ours and bare alike). */
const ARRIVALS_PER_S = 1_000;
const ARRIVALS_DELAY_MS = 500;
/** Pairs of runs (bare, ours): at least this many, and more, up to the most, while ours is over. */
const ARRIVALS_MIN_PAIRS = 3;
const ARRIVALS_MAX_PAIRS = 8;
/** Ours may lose this many more per run than bare: a few milliseconds of arrivals at the close. */
const ARRIVALS_MARGIN_PER_RUN = 3;
/** A bare run that loses more than this (20 ms of arrivals), or closes this much after its delay, met a stall of the machine. */
const ARRIVALS_ERRATIC_RUN = 20;
const ARRIVALS_ERRATIC_CLOSE_MS = 100;
/**
 * Ours' listener closes no later than bare's plus this, in the median pair (it was 250 ms later).
 * On a loaded machine the hold's catch-up may wait up to CATCH_UP_MAX_MS past the delay, by design.
 */
const ARRIVALS_CLOSE_LATER_MS = CATCH_UP_MAX_MS + 50;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** Sends a POST /upload of `size` bytes at ~1 MiB/s (64 KiB every 62 ms); resolves with the bytes sent. */
async function uploadSlowly(connection: Connection, size: number): Promise<number> {
  const chunk = new Uint8Array(64 * 1024).fill(97);
  connection.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${size}\r\n\r\n`);
  let sent = 0;
  while (sent < size && !connection.ended) {
    connection.write(chunk);
    sent += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 62));
  }
  return sent;
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/** Reads `count` responses, then expects the server to end the connection cleanly. */
async function readUntilClosed(connection: Connection, count: number): Promise<RawResponse[]> {
  const responses: RawResponse[] = [];
  for (let i = 0; i < count; i++) responses.push(await connection.read(5_000));
  await connection.closed(3_000);
  assert.equal(connection.error, undefined, "the connection ends cleanly, not with a reset");
  return responses;
}

/** No answer but the last carries `Connection: close`; the last does when it was made during the drain. */
function assertOnlyLastCloses(responses: RawResponse[], lastMadeDuringDrain: boolean): void {
  assert.deepEqual(
    responses.slice(0, -1).map((r) => r.headers.connection === "close"),
    responses.slice(0, -1).map(() => false),
    "no answer but the last carries Connection: close",
  );
  if (lastMadeDuringDrain) assert.equal(responses.at(-1)!.headers.connection, "close");
}

for (const runtime of selectedRuntimes()) {
  describe(`arrivals on ${runtime.name}`, { concurrency: false }, () => {
    // Bun 1.4.5 closes a connection with pipelined requests without answering, even bare.
    const pipelining = runtime.name === "bun" ? it.skip : it;

    pipelining("answers every pipelined request it runs when the signal comes while the first runs", async () => {
      const f = await start(runtime);
      const connection = await Connection.open(f.port);
      connection.write(get("/slow?ms=500") + get("/?n=2") + get("/?n=3"));
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the first request to start");
      f.signal("SIGTERM");
      if (runtime.name === "deno") {
        // Deno reads the next request only after the previous answer; its shutdown() then closes
        // the connection: the later requests never ran, and RFC 9112 has the client retry them.
        const [only] = await readUntilClosed(connection, 1);
        assert.equal(only!.body, "slept 500");
        assert.equal(only!.headers.connection, "close");
        assert.equal((await f.exit(5_000)).code, 0);
        assert.equal(f.lines.filter((l) => l.fixture === "app.request").length, 1, "no handler ran without its answer");
        assert.deepEqual(f.report()!.requests, { inFlightAtStart: 1, served: 1, cut: 0 });
        return;
      }
      const responses = await readUntilClosed(connection, 3);
      assert.deepEqual(responses.map((r) => [r.status, r.body]), [[200, "slept 500"], [200, "hello"], [200, "hello"]]);
      // Node runs the two quick ones (and queues their answers) before the signal.
      assertOnlyLastCloses(responses, false);
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      const requests = f.report()!.requests as { served: number; cut: number };
      assert.equal(requests.cut, 0);
      assert.ok(requests.served >= 1, `served ${requests.served}`);
    });

    pipelining("answers every pipelined request that arrives during the drain delay", async () => {
      const f = await start(runtime, { drainDelay: 1_000 });
      const connection = await Connection.open(f.port);
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      connection.write(get("/slow?ms=300") + get("/?n=2") + get("/?n=3"));
      const responses = await readUntilClosed(connection, 3);
      assert.deepEqual(responses.map((r) => [r.status, r.body]), [[200, "slept 300"], [200, "hello"], [200, "hello"]]);
      // Deno writes each answer before it reads the next request and does not close a connection
      // for our header, so it cannot tell the last one: every answer says close (a Deno limit).
      if (runtime.name === "node") assertOnlyLastCloses(responses, true);
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 0, served: 3, cut: 0 });
    });

    // Quick answers: the first one's handler returns while Node's parser is still on the data that
    // brought the other two (its Connection: close used to end the socket with theirs unsent).
    pipelining("answers three quick pipelined requests that arrive during the drain delay, and closes after the last", async () => {
      const f = await start(runtime, { drainDelay: 1_000, plainApp: true });
      const connection = await Connection.open(f.port);
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      connection.write(get("/?n=1") + get("/?n=2") + get("/?n=3"));
      const responses = await readUntilClosed(connection, 3);
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
      if (runtime.name === "node") assertOnlyLastCloses(responses, true);
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 0, served: 3, cut: 0 });
    });

    // Deno reports a response complete even when its client has gone: counted served there.
    const tellsClientLeft = runtime.name === "deno" ? it.skip : it;

    tellsClientLeft("counts a request whose client left before its answer as cut, and exits 1", async () => {
      const f = await start(runtime);
      const connection = await Connection.open(f.port);
      connection.write(get("/slow?ms=700"));
      await f.waitFor((l) => l.fixture === "slow.start", 5_000, "the request to start");
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      connection.close(); // the client gives up
      const exit = await f.exit(5_000);
      assert.ok(f.lines.some((l) => l.fixture === "slow.end"), "the handler returned");
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 1, served: 0, cut: 1 });
      assert.equal(exit.code, 1);
    });

    it("lets an upload still arriving at the signal finish, then answers it", async () => {
      const f = await start(runtime);
      const connection = await Connection.open(f.port);
      const size = 4 * 1024 * 1024;
      const uploading = uploadSlowly(connection, size);
      await f.waitFor((l) => l.fixture === "upload.start", 5_000, "the upload to start");
      await new Promise((resolve) => setTimeout(resolve, 500)); // the signal half a second in
      f.signal("SIGTERM");
      const response = await connection.read(15_000);
      assert.equal(await uploading, size, "the whole body was sent");
      assert.equal(response.status, 200, `answered ${response.status} ${response.body}`);
      assert.equal(response.body, `received ${size}`);
      assert.equal(response.headers.connection, "close");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 1, served: 1, cut: 0 });
    });

    it("refuses an upload that comes while the close waits for an earlier one, or answers it whole", async () => {
      // Deno's listener stays open while its close waits for the bodies still arriving (its
      // shutdown() would break them); an upload that came in then got a 500 at the shutdown, where
      // Node and Bun have closed their listener and refuse its connection (a retry is safe).
      const f = await start(runtime, { drainDelay: 0, timeout: 15_000 });
      const first = await Connection.open(f.port);
      const size = 2 * 1024 * 1024;
      const firstUploading = uploadSlowly(first, size);
      await f.waitFor((l) => l.fixture === "upload.start", 5_000, "the upload to start");
      f.signal("SIGTERM");
      // When the second client comes (the stimulus, not a wait for the server): past the hold (250 ms
      // at most), so the listener's close has begun. A busy machine may make it come earlier: it is
      // then an upload begun before the close, answered whole, and the test decides nothing.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const second = await Connection.open(f.port).catch(() => undefined);
      // As long as the first: still arriving when the first's answer has gone.
      const secondUploading = second && uploadSlowly(second, size);
      assert.equal(await firstUploading, size, "the whole first body was sent");
      const answer = await first.read(15_000);
      assert.equal(answer.status, 200, `answered ${answer.status} ${answer.body}`);
      assert.equal(answer.body, `received ${size}`);
      if (second !== undefined) {
        assert.equal(await secondUploading, size, "the whole second body was sent");
        const late = await second.read(15_000);
        assert.equal(late.status, 200, `the upload that came during the close: ${late.status} ${late.body}`);
        assert.equal(late.body, `received ${size}`);
      }
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 0, JSON.stringify(f.report()));
    });

    // Bun's stop() and Deno's shutdown() close such a connection themselves, bare too (a runtime limit).
    const adapterSeesConnections = runtime.name === "node" ? it : it.skip;

    adapterSeesConnections("answers a connection accepted just before the listener closed whose request comes after", async (t) => {
      // The premise needs this test's own client on time: connected before the close, its request
      // sent after it but well within the grace of the accept. A busy machine can miss that (the
      // request then comes after the grace, and is rightly not waited for): the setup is made again.
      for (let attempt = 1;; attempt++) {
        const f = await start(runtime, { drainDelay: 200 });
        f.signal("SIGTERM");
        await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
        await new Promise((resolve) => setTimeout(resolve, 170));
        const late = await Connection.open(f.port).catch(() => undefined);
        const connectedAt = performance.now();
        // The request leaves only once the listener is closed (new connections refused).
        for (let i = 0; late && i < 100 && !(await refused(f.port)); i++) await new Promise((resolve) => setTimeout(resolve, 2));
        const waited = performance.now() - connectedAt;
        const onTime = late !== undefined && (await refused(f.port)) && waited < REQUEST_GRACE_MS * 0.7;
        if (!onTime) {
          late?.close();
          f.kill();
          const why = late === undefined
            ? "connected only after the close"
            : `the close seen ${Math.round(waited)} ms after the connect (grace ${REQUEST_GRACE_MS} ms)`;
          if (attempt < 3) {
            t.diagnostic(`attempt ${attempt}: ${why}; again`);
            continue;
          }
          console.error(`\n!!! SKIPPED (arrivals on ${runtime.name}): machine too busy to set up the late connection: ${why}\n`);
          return t.skip(`machine too busy to set up the late connection in 3 attempts: ${why}`);
        }
        const response = await late!.request("GET", "/");
        assert.equal(response.status, 200, `answered (request sent ${Math.round(waited)} ms after the connect)`);
        assert.equal(response.headers.connection, "close");
        const exit = await f.exit(5_000);
        assert.equal(exit.code, 0);
        assert.deepEqual(f.report()!.requests, { inFlightAtStart: 0, served: 1, cut: 0 });
        return;
      }
    });

    // New connections at 1,000 a second through the close, ours and the runtime's own close (after
    // the same drain delay) interleaved pair by pair, the order alternating, so both meet the same
    // load. Every run loses what the kernel had queued but not handed over at the close (a reset),
    // bare too; a single stall of the machine at the close swings one run by tens.
    it(
      "under steady arrivals through the close, closes when the runtime's own close does and cuts no more than it",
      { timeout: 170_000 },
      async (t) => {
        const perRun = { bare: [] as ArrivalCounts[], ours: [] as ArrivalCounts[] };
        // Each side's total without its worst quarter of runs (at least one): a stall of the machine
        // at the close loses that stall's arrivals, on either side (seen in a full npm test, load
        // 2.3: ours 63 and 78 in 2 of 8 runs whose listener closed 52 and 71 ms late, every other
        // run 0-3, bare 0-3); a loss in most runs still shows, and the median pair's close time is
        // checked apart.
        const ambiguous = (side: ArrivalCounts[]) =>
          side.map((c) => c.ambiguous).sort((a, b) => a - b).slice(0, -Math.max(1, Math.floor(side.length / 4))).reduce(
            (a, b) => a + b,
            0,
          );
        // How much later ours' listener closed than bare's, pair by pair: the median.
        const later = () => median(perRun.ours.map((c, i) => c.firstRefusedAt! - perRun.bare[i]!.firstRefusedAt!));
        const failures = () => [
          ...(later() > ARRIVALS_CLOSE_LATER_MS ? [`ours' listener closed ${later()} ms after bare's (median of the pairs)`] : []),
          ...(ambiguous(perRun.ours) > ambiguous(perRun.bare) + ARRIVALS_MARGIN_PER_RUN * perRun.bare.length
            ? [`ours lost more than bare + ${ARRIVALS_MARGIN_PER_RUN} per run (each side's worst quarter of runs aside)`]
            : []),
        ];
        const told = () =>
          `ambiguous per run: ours ${perRun.ours.map((c) => c.ambiguous).join(", ")}; bare ${
            perRun.bare.map((c) => c.ambiguous).join(", ")
          } (listener closed at ${perRun.ours.map((c) => c.firstRefusedAt).join(", ")} ms; bare ${
            perRun.bare.map((c) => c.firstRefusedAt).join(", ")
          })`;
        for (let pair = 0; pair < ARRIVALS_MAX_PAIRS; pair++) {
          for (const side of pair % 2 === 0 ? (["bare", "ours"] as const) : (["ours", "bare"] as const)) {
            const options = side === "bare" ? { bare: true, drainDelay: ARRIVALS_DELAY_MS } : { drainDelay: ARRIVALS_DELAY_MS };
            const counts = await measureArrivals(runtime, "test/fixtures/arrivals.ts", options, { rate: ARRIVALS_PER_S });
            assert.ok(
              counts.answered > 0 && counts.refused > 0,
              `${side}: arrivals before and after the close (${JSON.stringify(counts)})`,
            );
            assert.equal(counts.exitCode, 0, `${side} exited ${counts.exitCode}`);
            perRun[side].push(counts);
          }
          if (pair + 1 >= ARRIVALS_MIN_PAIRS && failures().length === 0) break;
        }
        t.diagnostic(told());
        const failed = failures();
        if (failed.length === 0) return;
        // Bare itself lost a long stretch of arrivals at its close, or closed long after its delay:
        // the machine stalled around the close, and a stall decides a run either way. Say so,
        // loudly, rather than pass or fail on it.
        const erratic = perRun.bare.filter((c) =>
          c.ambiguous > ARRIVALS_ERRATIC_RUN || c.firstRefusedAt! - ARRIVALS_DELAY_MS > ARRIVALS_ERRATIC_CLOSE_MS
        );
        if (erratic.length > 0) {
          const why = `machine too busy to decide (${failed.join("; ")}), as the bare server itself lost ${
            erratic[0]!.ambiguous
          } or closed ${erratic[0]!.firstRefusedAt! - ARRIVALS_DELAY_MS} ms after its delay in a run; ${told()}`;
          console.error(`\n!!! SKIPPED (arrivals on ${runtime.name}): ${why}\n`);
          return t.skip(why);
        }
        assert.fail(`${failed.join("; ")}: ${told()}`);
      },
    );
  });
}
