/**
 * Every request that reaches the server gets its answer, and the report counts what clients got:
 * pipelined requests, an upload still arriving at the signal, connections accepted as the listener
 * closes. Same fixture on Node, Bun and Deno, real sockets, real signals.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Connection, type RawResponse, refused } from "../support/client.ts";
import { measureArrivals } from "../support/arrivals-load.ts";
import { fixtureStarter, selectedRuntimes } from "../support/harness.ts";

const SERVER = "test/fixtures/server.ts";
const start = fixtureStarter(SERVER);

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
      const chunk = new Uint8Array(64 * 1024).fill(97);
      connection.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${size}\r\n\r\n`);
      // ~1 MiB/s: 64 KiB every 62 ms, for about 4 s.
      let sent = 0;
      const uploading = (async () => {
        while (sent < size && !connection.ended) {
          connection.write(chunk);
          sent += chunk.length;
          await new Promise((resolve) => setTimeout(resolve, 62));
        }
      })();
      await f.waitFor((l) => l.fixture === "upload.start", 5_000, "the upload to start");
      await new Promise((resolve) => setTimeout(resolve, 500)); // the signal half a second in
      f.signal("SIGTERM");
      const response = await connection.read(15_000);
      await uploading;
      assert.equal(sent, size, "the whole body was sent");
      assert.equal(response.status, 200, `answered ${response.status} ${response.body}`);
      assert.equal(response.body, `received ${size}`);
      assert.equal(response.headers.connection, "close");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 1, served: 1, cut: 0 });
    });

    // Bun's stop() and Deno's shutdown() close such a connection themselves, bare too (a runtime limit).
    const adapterSeesConnections = runtime.name === "node" ? it : it.skip;

    adapterSeesConnections("answers a connection accepted just before the listener closed whose request comes after", async () => {
      const f = await start(runtime, { drainDelay: 200 });
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 3_000, "the drain to start");
      await new Promise((resolve) => setTimeout(resolve, 170));
      const late = await Connection.open(f.port);
      const closedAt = performance.now();
      // The request leaves only once the listener is closed (new connections refused), within
      // the first-request grace of the connection's accept.
      for (let i = 0; i < 100 && !(await refused(f.port)); i++) await new Promise((resolve) => setTimeout(resolve, 2));
      assert.equal(await refused(f.port), true, "the listener closed");
      const waited = performance.now() - closedAt;
      const response = await late.request("GET", "/");
      assert.equal(response.status, 200, `answered (request sent ${Math.round(waited)} ms after the connect)`);
      assert.equal(response.headers.connection, "close");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
      assert.deepEqual(f.report()!.requests, { inFlightAtStart: 0, served: 1, cut: 0 });
    });

    // On Deno, shutdown() closes connections it has accepted but not read yet, bare or not, so a
    // run loses a burst of 5 or none by chance (30 alternated runs: bare lost one in 8, ours in 11):
    // more runs and a margin of two bursts per run there. A systematic loss (20 per run on Deno
    // before the fix) still fails.
    const [runs, marginPerRun] = runtime.name === "deno" ? [6, 10] : [4, 5];
    it(
      "under steady arrivals at close, no more ambiguous failures than the bare server",
      { timeout: 120_000 },
      async () => {
        const perRun = { bare: [] as number[], ours: [] as number[] };
        for (let i = 0; i < runs; i++) {
          const bare = await measureArrivals(runtime, "test/fixtures/arrivals.ts", { bare: true }, { perTick: 5 });
          const ours = await measureArrivals(runtime, "test/fixtures/arrivals.ts", { drainDelay: 300 }, { perTick: 5 });
          assert.ok(bare.answered > 0 && ours.answered > 0 && ours.refused > 0, "arrivals before and after the close");
          assert.equal(ours.exitCode, 0);
          perRun.bare.push(bare.ambiguous);
          perRun.ours.push(ours.ambiguous);
        }
        // Both lose what the kernel had queued at the close (about one burst of 5, now and then), and
        // single runs swing on a busy machine: medians, with a margin for that noise, not for a
        // systematic loss (which was 20 per run on Deno before the fix).
        const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
        assert.ok(
          median(perRun.ours) <= median(perRun.bare) + 10,
          `ambiguous per run: ours ${perRun.ours.join(", ")}; bare ${perRun.bare.join(", ")}`,
        );
        // A systematic loss shows in the totals even when it skips a run (Deno lost 25-50 in one run
        // in four while a late quiet check ended the hold).
        const total = (values: number[]) => values.reduce((sum, n) => sum + n, 0);
        assert.ok(
          total(perRun.ours) <= total(perRun.bare) + marginPerRun * runs,
          `ambiguous in total: ours ${perRun.ours.join(" + ")}; bare ${perRun.bare.join(" + ")}`,
        );
      },
    );
  });
}
