/**
 * Real-socket checks of one adapter, in process, on whichever runtime runs this file (Node via tsx,
 * Bun, Deno): the native second argument stays c.env (Hono's getConnInfo works), the executionCtx
 * is real, shutdown() closes idle keep-alive connections and finishes in-flight requests, and a
 * port in use rejects `ready`. Prints one line per check and "N passed, N failed"; exits 1 on a failure.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { Hono } from "hono";
import type { GetConnInfo } from "hono/conninfo";
import { createLifecycle, runtimeName, serveGracefully } from "../support/adapter.ts";
import { type Check, runChecks } from "../support/checks.ts";

const getConnInfo: GetConnInfo = runtimeName === "bun"
  ? (await import("hono/bun")).getConnInfo
  : runtimeName === "deno"
  ? (await import("hono/deno")).getConnInfo
  : (await import("@hono/node-server/conninfo")).getConnInfo;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const app = new Hono();
app.get("/info", (c) => c.json({ address: getConnInfo(c).remote.address, waitUntil: typeof c.executionCtx.waitUntil }));
app.get("/slow", async (c) => {
  await sleep(300);
  return c.text("slow");
});

function serve(options: Record<string, unknown> = {}) {
  return serveGracefully(app, { port: 0, hostname: "127.0.0.1", signals: false, logger: false, lifecycle: createLifecycle(), ...options });
}

/** A raw keep-alive connection: send a request, read until `until` matches, watch for the close. */
function connection(port: number) {
  const socket = net.connect({ port, host: "127.0.0.1" });
  let data = "";
  let closed = false;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (data += chunk));
  socket.on("close", () => (closed = true));
  socket.on("error", () => {});
  const waitFor = async (check: () => boolean, what: string, ms = 3_000) => {
    const deadline = performance.now() + ms;
    while (!check()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}; got: ${JSON.stringify(data)}`);
      await sleep(5);
    }
  };
  return {
    send: (target: string) => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    /** Waits until `body` has come `times` times. */
    response: async (body: string, times = 1) => {
      await waitFor(() => data.split(body).length > times, `"${body}" x${times}`);
      return data;
    },
    closed: () => waitFor(() => closed, "the server to close the connection"),
    destroy: () => socket.destroy(),
  };
}

/** Tries to connect every 10 ms (for at most 5 s) until the listener refuses; calls `then` from that error's callback. */
function refusedThen(port: number, then: () => void): Promise<void> {
  const deadline = performance.now() + 5_000;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const probe = net.connect({ port, host: "127.0.0.1" });
      probe.once("connect", () => {
        probe.destroy();
        if (performance.now() > deadline) reject(new Error("the listener still accepts after 5 s"));
        else setTimeout(attempt, 10);
      });
      probe.once("error", () => {
        then();
        resolve();
      });
    };
    attempt();
  });
}

const checks: Check[] = [
  ["keeps the runtime's own second argument as c.env (getConnInfo) and a real executionCtx", async () => {
    const server = serve();
    const { port } = await server.ready;
    const res = await fetch(`http://127.0.0.1:${port}/info`);
    assert.deepEqual(await res.json(), { address: "127.0.0.1", waitUntil: "function" });
    await server.shutdown();
  }],
  ["shutdown() closes an idle keep-alive connection and resolves promptly", async () => {
    const server = serve();
    const { port } = await server.ready;
    const idle = connection(port);
    idle.send("/info");
    await idle.response("waitUntil");
    const began = performance.now();
    const report = await server.shutdown();
    assert.equal(report.exitCode, 0);
    assert.ok(performance.now() - began < 3_000, "not held by the idle client (until its keep-alive time)");
    await idle.closed();
  }],
  ["shutdown() finishes an in-flight request with Connection: close", async () => {
    const server = serve();
    const { port } = await server.ready;
    const busy = connection(port);
    busy.send("/slow");
    await sleep(50);
    const report = server.shutdown();
    const raw = await busy.response("slow");
    assert.match(raw, /^HTTP\/1\.1 200/);
    assert.match(raw, /connection: close/i);
    assert.equal((await report).requests.inFlightAtStart, 1);
    await busy.closed();
  }],
  ["shutdown() of an idle server is not held by another server's upload in the same process", async () => {
    // Deno's close waits for its own handlers reading a body, begun before it (a process-wide count
    // once made an idle server wait for another's upload, until its deadline).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const uploads = new Hono().post("/upload", async (c) => {
      await c.req.text();
      await gate;
      return c.text("ok");
    });
    const idle = serve({ timeout: 3_000 });
    const loaded = serveGracefully(uploads, {
      port: 0,
      hostname: "127.0.0.1",
      signals: false,
      logger: false,
      lifecycle: createLifecycle(),
    });
    await idle.ready;
    const { port } = await loaded.ready;
    const upload = fetch(`http://127.0.0.1:${port}/upload`, { method: "POST", body: "x".repeat(1_000) });
    await sleep(100); // its handler runs
    const began = performance.now();
    const report = await idle.shutdown();
    const took = performance.now() - began;
    release();
    assert.equal(await (await upload).text(), "ok");
    await loaded.shutdown();
    assert.equal(report.forced, false);
    assert.ok(took < 1_000, `the idle server's shutdown took ${Math.round(took)} ms`);
  }],
];

// Node only: Bun's stop() and Deno's shutdown() close idle connections with the listener, before the
// drain waits for its last handler; Node's adapter closes them after it, one by one.
if (runtimeName === "node") {
  checks.push(["a request that reaches an idle keep-alive connection as the last handler ends is answered, not closed unread", async () => {
    // The idle connection is past the grace a recent one gets (100 ms). The last handler of the drain
    // writes that connection's next request itself as it ends, so the request is still unread in the
    // kernel when the drain goes on to close idle connections.
    const clients: { idle?: ReturnType<typeof connection> } = {};
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const last = new Hono().get("/info", (c) => c.text("info")).get("/last", async (c) => {
      await gate;
      clients.idle!.send("/info");
      return c.text("last");
    });
    const server = serveGracefully(last, { port: 0, hostname: "127.0.0.1", signals: false, logger: false, lifecycle: createLifecycle() });
    const { port } = await server.ready;
    const idle = clients.idle = connection(port);
    idle.send("/info");
    await idle.response("info");
    await sleep(200);
    const busy = connection(port);
    busy.send("/last");
    await sleep(20);
    const report = server.shutdown();
    // Once the listener refuses connections the drain waits for /last alone. The gate opens from
    // that refusal's I/O callback, where a single setImmediate would run before the next poll.
    await refusedThen(port, open);
    await busy.response("last");
    const raw = await idle.response("HTTP/1.1 200 OK", 2);
    assert.match(raw.slice(raw.lastIndexOf("HTTP/1.1")), /connection: close/i, "answered, with Connection: close");
    assert.equal((await report).exitCode, 0);
  }]);
}

checks.push(
  ["rejects ready with a ListenError when the port is in use", async () => {
    const first = serve();
    const { port } = await first.ready;
    const second = serve({ port });
    await assert.rejects(second.ready, (error: Error & { code?: string }) => {
      assert.equal(error.name, "ListenError");
      assert.equal(error.code, "EADDRINUSE");
      assert.match(error.message, new RegExp(`port ${port} is already in use`));
      return true;
    });
    await first.shutdown();
  }],
);

const failed = await runChecks(checks, runtimeName);
if (failed > 0) (globalThis as { process?: { exitCode?: number } }).process!.exitCode = 1;
