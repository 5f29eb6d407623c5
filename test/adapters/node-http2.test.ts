/**
 * The Node adapter over HTTP/2 on real sockets: each session gets GOAWAY at the drain, open streams
 * finish, no new stream is accepted, and Hono's streamSSE works (connection headers stripped).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createLifecycle, serveGracefully } from "../../adapters/node.ts";

const tls = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/tls");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function get(session: http2.ClientHttp2Session, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": target });
    let status = 0;
    let body = "";
    stream.setEncoding("utf8");
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve({ status, body }));
    stream.on("error", reject);
    setTimeout(() => reject(new Error(`no answer to ${target} within 5 s`)), 5_000).unref();
  });
}

it("DrainsHttp2SessionsWithGoawayWhileOpenStreamsFinish", async () => {
  const app = new Hono();
  let slowStarted!: () => void;
  const slowStart = new Promise<void>((resolve) => (slowStarted = resolve));
  app.get("/slow", async (c) => {
    slowStarted();
    await sleep(400);
    return c.text("slow done");
  });
  app.get("/sse", (c) => streamSSE(c, async (stream) => stream.writeSSE({ data: "one" })));
  const server = serveGracefully(app, {
    port: 0,
    hostname: "127.0.0.1",
    signals: false,
    logger: false,
    lifecycle: createLifecycle(),
    createServer: http2.createSecureServer,
    serverOptions: {
      key: readFileSync(path.join(tls, "localhost.key")),
      cert: readFileSync(path.join(tls, "localhost.crt")),
      allowHTTP1: true,
    },
  });
  const { port } = await server.ready;
  const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  try {
    const sse = await get(session, "/sse");
    assert.equal(sse.status, 200);
    assert.match(sse.body, /data: one/);
    const goaway = new Promise<number>((resolve) => session.once("goaway", () => resolve(performance.now())));
    const slow = get(session, "/slow");
    await slowStart;
    const report = server.shutdown();
    const [slowRes, goawayAt] = await Promise.all([slow, goaway]);
    assert.equal(slowRes.status, 200);
    assert.equal(slowRes.body, "slow done");
    assert.ok(goawayAt > 0);
    const done = await report;
    assert.equal(done.exitCode, 0);
    assert.equal(done.requests.inFlightAtStart, 1);
  } finally {
    session.destroy();
  }
});
