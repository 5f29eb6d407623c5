/** WebSockets made with Hono's upgradeWebSocket are closed with 1001 when the drain starts. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { Fixture, selectedRuntimes } from "../support/harness.ts";

const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

function openSocket(port: number): Promise<{ ws: WebSocket; closed: Promise<{ code: number; at: number }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const closed = new Promise<{ code: number; at: number }>((done) => ws.once("close", (code) => done({ code, at: performance.now() })));
    const timer = setTimeout(() => reject(new Error("websocket did not open within 5 s")), 5_000);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve({ ws, closed });
    });
    ws.once("error", reject);
  });
}

for (const runtime of selectedRuntimes()) {
  describe(`websocket on ${runtime.name}`, () => {
    it("closes open WebSockets with 1001 (going away) and exits 0", async () => {
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { drainDelay: 300 });
      started.push(f);
      const { ws, closed } = await openSocket(f.port);
      const echoed = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
      ws.send("hi");
      assert.equal(await echoed, "echo:hi");
      const sent = f.signal("SIGTERM");
      const { code, at } = await closed;
      assert.equal(code, 1001);
      assert.ok(at - sent >= 250, "not before the drain delay is over");
      const exit = await f.exit(5_000);
      assert.equal(exit.code, 0);
    });
  });
}
