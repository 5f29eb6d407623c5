/**
 * Keep-alive idle timeouts (issue 10): the server must keep an idle kept-alive connection longer
 * than a load balancer keeps it pooled (60 s and more), or the balancer's next request races the
 * close and fails with a 502. Each runtime runs its cases at the same time, to keep the wall time
 * near the longest wait (15 s).
 *
 * What each runtime can do (measured, see docs/keep-alive.md):
 * - Node: keepAliveTimeout (closes 1 s after it); headersTimeout cuts half-sent headers.
 * - Bun: idleTimeout in whole seconds (closes up to ~1 s after it); half-sent headers are cut after
 *   ~10-12 s whatever idleTimeout is.
 * - Deno: Deno.serve never closes an idle connection, and has no header timeout.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Connection } from "../support/client.ts";
import { Fixture, type Runtime, selectedRuntimes } from "../support/harness.ts";

const SERVER = "test/fixtures/server.ts";
/** Longer than the old defaults: Node closed after 6 s, Bun after ~12 s (idleTimeout 10 s on a 4 s tick). */
const STILL_OPEN_AFTER_MS = 15_000;
const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

async function start(runtime: Runtime, options: Record<string, unknown> = {}): Promise<Fixture> {
  const fixture = await Fixture.start(runtime, SERVER, options);
  started.push(fixture);
  return fixture;
}

/** One request on a fresh connection, then idle: resolves with ms until the server closed it, or undefined if it stayed open `ms`. */
async function idleFor(port: number, ms: number): Promise<number | undefined> {
  const connection = await Connection.open(port);
  try {
    const response = await connection.request("GET", "/");
    assert.equal(response.status, 200);
    const idleSince = performance.now();
    const closedAt = await connection.closed(ms).catch(() => undefined);
    return closedAt === undefined ? undefined : closedAt - idleSince;
  } finally {
    connection.close();
  }
}

/** Connects and sends half a request header, then nothing: ms until the server cut it, or undefined. */
async function halfHeaderFor(port: number, ms: number): Promise<number | undefined> {
  const connection = await Connection.open(port);
  try {
    const sentAt = performance.now();
    connection.socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    const closedAt = await connection.closed(ms).catch(() => (connection.error ? performance.now() : undefined));
    return closedAt === undefined ? undefined : closedAt - sentAt;
  } finally {
    connection.close();
  }
}

describe("keep-alive idle timeouts", { concurrency: true }, () => {
  for (const runtime of selectedRuntimes()) {
    describe(`keep-alive on ${runtime.name}`, { concurrency: true }, () => {
      it(
        "keeps an idle kept-alive connection open past the old defaults, and says its default on the listening line",
        { timeout: 40_000 },
        async () => {
          const f = await start(runtime);
          const listening = f.log("listening")!;
          if (runtime.name === "deno") {
            assert.equal(listening.keepAliveTimeoutMs, null, JSON.stringify(listening));
            assert.match(String(listening.keepAliveNote), /never closes idle/);
          } else {
            assert.equal(listening.keepAliveTimeoutMs, 75_000, JSON.stringify(listening));
          }
          const closedAfter = await idleFor(f.port, STILL_OPEN_AFTER_MS);
          assert.equal(closedAfter, undefined, `the server closed the idle connection after ${Math.round(closedAfter ?? 0)} ms`);
        },
      );

      it("keepAliveTimeout: 3000 closes an idle kept-alive connection after about 3 s", { timeout: 40_000 }, async () => {
        const f = await start(runtime, { keepAliveTimeout: 3_000 });
        if (runtime.name === "deno") {
          // Deno.serve offers no idle timeout: the option cannot apply, and the startup line says so.
          assert.equal(f.log("listening")!.keepAliveTimeoutMs, null);
          assert.equal(await idleFor(f.port, 8_000), undefined, "Deno closed an idle connection: it has an idle timeout now, use it");
          return;
        }
        assert.equal(f.log("listening")!.keepAliveTimeoutMs, 3_000);
        const closedAfter = await idleFor(f.port, 10_000);
        assert.ok(closedAfter !== undefined, "still open after 10 s");
        assert.ok(closedAfter >= 2_000 && closedAfter <= 8_000, `closed after ${Math.round(closedAfter)} ms, expected 2-8 s`);
      });

      it("cuts a client that sends half a header on the header timeout, not after the keep-alive time", {
        timeout: 40_000,
        skip: runtime.name === "deno"
          ? "Deno.serve has no header timeout (measured: half a header stays open > 100 s); put a proxy in front"
          : false,
      }, async () => {
        // Node: a short headersTimeout (checked every 500 ms) under a long keep-alive time. Bun: its
        // own fixed header timeout (~10 s) under a 60 s idleTimeout.
        const options = runtime.name === "node"
          ? { keepAliveTimeout: 60_000, serverOptions: { headersTimeout: 2_000, requestTimeout: 5_000, connectionsCheckingInterval: 500 } }
          : { keepAliveTimeout: 60_000 };
        const f = await start(runtime, options);
        const [slow, idle] = await Promise.all([halfHeaderFor(f.port, 20_000), idleFor(f.port, runtime.name === "node" ? 5_000 : 16_000)]);
        assert.ok(slow !== undefined, "the half-header client was still connected after 20 s");
        const bound = runtime.name === "node" ? [1_500, 4_000] : [8_000, 16_000];
        assert.ok(
          slow >= bound[0]! && slow <= bound[1]!,
          `half-header client cut after ${Math.round(slow)} ms, expected ${bound.join("-")} ms`,
        );
        // The same server keeps a kept-alive idle connection longer than that: the timeouts are separate.
        assert.equal(idle, undefined, `the idle kept-alive connection was closed after ${Math.round(idle ?? 0)} ms`);
      });
    });
  }
});
