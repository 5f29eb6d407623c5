/**
 * WebSockets made with Hono's upgradeWebSocket are closed with 1001 when the listener closes, and
 * the drain completes each closing handshake (RFC 6455 section 7.1.1): the client's close frame,
 * then a clean TCP close by the server, then the exit.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { Fixture, selectedRuntimes } from "../support/harness.ts";
import { RawWebSocket } from "../support/raw-websocket.ts";

const started: Fixture[] = [];
/** New connections that keep a drain's hold going (one every 3 ms, for 400 ms at most). */
const ARRIVALS = 100;
after(() => started.forEach((f) => f.kill()));

interface WsClose {
  code: number;
  at: number;
  /** The server ended the TCP connection (FIN), not reset. */
  cleanEnd: boolean;
  error: string | undefined;
}

/** A `ws` client, with its TCP socket watched (ws itself hides a reset after the close frame). */
function openSocket(port: number): Promise<{ ws: WebSocket; closed: Promise<WsClose> }> {
  let socket!: net.Socket;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      createConnection: (options: object) => (socket = net.connect(options as net.NetConnectOpts)),
    });
    const closed = new Promise<WsClose>((done) => {
      let fin = false;
      let error: string | undefined;
      ws.once("open", () => {
        socket.on("end", () => (fin = true));
        socket.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code));
      });
      ws.once("close", (code) => {
        const at = performance.now();
        // ws reports the close once the TCP connection is gone (FIN or reset, whichever came).
        done({ code, at, cleanEnd: fin && error === undefined, error });
      });
    });
    const timer = setTimeout(() => reject(new Error("websocket did not open within 5 s")), 5_000);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve({ ws, closed });
    });
    ws.once("error", reject);
  });
}

const start = async (runtime: Parameters<typeof Fixture.start>[0]) => {
  const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { drainDelay: 300 });
  started.push(f);
  return f;
};

for (const runtime of selectedRuntimes()) {
  describe(`websocket on ${runtime.name}`, () => {
    it("closes open WebSockets with 1001 (going away), completes the handshake and exits 0", async () => {
      const f = await start(runtime);
      const { ws, closed } = await openSocket(f.port);
      const echoed = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
      ws.send("hi");
      assert.equal(await echoed, "echo:hi");
      const sent = f.signal("SIGTERM");
      const close = await closed;
      assert.equal(close.code, 1001);
      assert.ok(close.at - sent >= 250, "not before the drain delay is over");
      assert.deepEqual({ cleanEnd: close.cleanEnd, error: close.error }, { cleanEnd: true, error: undefined });
      assert.equal((await f.exit(5_000)).code, 0);
    });

    it("a WebSocket upgraded while the listener closes is refused, or gets its 1001 as soon as it opens", async () => {
      // A client slow to answer its 1001 keeps the drain waiting; Deno's listener stays open for
      // it, and a WebSocket upgraded then got Deno's close() while still connecting, which does
      // nothing: it served on until the 5 s answer wait (a stream of them: the deadline, exit 1).
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { drainDelay: 0, timeout: 10_000 });
      started.push(f);
      const slow = await RawWebSocket.open(f.port);
      slow.replyDelayMs = 1_500;
      const sent = f.signal("SIGTERM");
      let cancel = () => {};
      const noFrame = new Promise<undefined>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        cancel = () => clearTimeout(timer);
      });
      const code = await Promise.race([slow.closeFrame, noFrame]);
      cancel();
      assert.equal(code, 1001, "the first client's 1001 within 5 s");
      const late = await RawWebSocket.open(f.port).catch(() => undefined);
      if (late !== undefined) {
        const openedAt = performance.now();
        const close = await late.closed;
        assert.equal(close.code, 1001);
        assert.ok(performance.now() - openedAt < 1_500, `its 1001 came ${Math.round(performance.now() - openedAt)} ms after its open`);
      }
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 0);
      assert.ok(exit.at - sent < 4_000, `exited ${Math.round(exit.at - sent)} ms after the signal`);
    });

    it("a WebSocket opened while the drain holds its answers counts as served, not cut: 1001, exit 0", async () => {
      // A client reconnecting into an instance that drains (a reload's old worker, during its hold):
      // Bun never writes an upgraded request's answer and aborts its signal once it has upgraded, so
      // the held answer, handed over after the hold, counted as cut (exit 1, every such reload "not
      // clean"; an outside probe). New keep-alive connections, one every 3 ms, keep the hold going;
      // a machine too busy for that closes the listener first, and the attempt is made again.
      const refused: string[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { drainDelay: 0 });
        started.push(f);
        const arrivals: net.Socket[] = [];
        const sent = f.signal("SIGTERM");
        const feeding = (async () => {
          for (let i = 0; i < ARRIVALS && performance.now() - sent < 400; i++) {
            const socket = net.connect(f.port, "127.0.0.1", () => socket.write("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"));
            socket.on("error", () => {});
            arrivals.push(socket);
            await new Promise((resolve) => setTimeout(resolve, 3));
          }
        })();
        await f.waitFor((l) => l.event === "drain.start", 5_000, "drain.start"); // the hold follows at once
        const opened = await openSocket(f.port).catch((error: Error) => error);
        if (!(opened instanceof Error)) opened.ws.on("error", () => {}); // a reset after the open is seen in `closed`
        await feeding;
        for (const socket of arrivals) socket.destroy();
        const exit = await f.exit(10_000);
        if (opened instanceof Error) {
          refused.push(opened.message);
          continue;
        }
        assert.equal((await opened.closed).code, 1001);
        const report = f.lines.find((l) => l.event === "drain.end")!;
        assert.equal((report.requests as { cut: number }).cut, 0, JSON.stringify(report.requests));
        assert.equal(exit.code, 0);
        return;
      }
      assert.fail(`the WebSocket never opened before the listener closed: ${refused.join("; ")}`);
    });

    // pausedMs: how long the client stops reading after the drain started; past the 5 s a client
    // has to answer its 1001, a slow reader is still no dead one.
    const largeMessageArrivesWhole = async (pausedMs: number) => {
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { timeout: 10_000 + pausedMs });
      started.push(f);
      let socket!: net.Socket;
      const ws = new WebSocket(`ws://127.0.0.1:${f.port}/ws`, {
        createConnection: (options: object) => (socket = net.connect(options as net.NetConnectOpts)),
      });
      await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
      const size = 32 * 1024 * 1024;
      const received: number[] = [];
      ws.on("message", (data: Buffer) => received.push(data.length));
      const closed = new Promise<number>((resolve) => ws.once("close", resolve));
      ws.send(`big:${size}`);
      // Once the message has begun to arrive, the client stops reading: the rest stays in the
      // server's send buffer through the signal.
      await new Promise((resolve) => socket.once("data", resolve));
      socket.pause();
      f.signal("SIGTERM");
      await f.waitFor((l) => l.event === "drain.start", 5_000, "the drain to start");
      if (pausedMs > 0) await new Promise((resolve) => setTimeout(resolve, pausedMs));
      socket.resume();
      assert.equal(await closed, 1001);
      assert.deepEqual(received, [size], "the whole message, then the close");
      assert.equal((await f.exit(15_000)).code, 0);
    };
    it("a large message still being sent at the drain arrives whole before the 1001", () => largeMessageArrivesWhole(0));
    it("a reader paused past the 5 s answer wait still gets the whole message, then the 1001", () => largeMessageArrivesWhole(6_000));

    it("a raw client sees the 1001 close frame, answers it, and then a clean TCP close (FIN, no reset)", async () => {
      const f = await start(runtime);
      const client = await RawWebSocket.open(f.port);
      f.signal("SIGTERM");
      const close = await client.closed;
      assert.deepEqual({ code: close.code, cleanEnd: close.cleanEnd, error: close.error }, {
        code: 1001,
        cleanEnd: true,
        error: undefined,
      });
      assert.equal((await f.exit(5_000)).code, 0);
    });

    // Bun closes a WebSocket at once (close frame, FIN, close handler, readyState CLOSED): no
    // runtime event says when the client's close frame arrives, so its drain cannot wait for it.
    const bunCannotWait = runtime.name === "bun" && "Bun ends a WebSocket at its close frame (see docs/streams.md#websockets)";
    it("waits for a client that answers the close frame late, then closes TCP and exits", { skip: bunCannotWait }, async () => {
      const f = await start(runtime);
      const client = await RawWebSocket.open(f.port);
      client.replyDelayMs = 400;
      const sent = f.signal("SIGTERM");
      const close = await client.closed;
      const exit = await f.exit(5_000);
      assert.deepEqual(
        { code: close.code, cleanEnd: close.cleanEnd, error: close.error, endedBeforeReply: close.endedBeforeReply },
        { code: 1001, cleanEnd: true, error: undefined, endedBeforeReply: false },
      );
      assert.equal(exit.code, 0);
      // The close frame comes after the 300 ms drain delay; the answer 400 ms after it.
      assert.ok(exit.at - sent >= 650, `exited ${Math.round(exit.at - sent)} ms after the signal, before the client's close frame`);
      assert.equal(f.lines.find((l) => l.fixture === "ws.closed")?.code, 1001, "the app saw the client's close frame");
    });

    it("a client that never answers the close frame is let go after 5 s, not held to the deadline", async () => {
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { timeout: 20_000 });
      started.push(f);
      const client = await RawWebSocket.open(f.port);
      client.replyDelayMs = 60_000;
      const sent = f.signal("SIGTERM");
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 0, "a dead peer is no work cut");
      assert.equal(f.report()?.forced, false);
      // 5 s after its 1001 (at once on Bun, which closes the connection with the frame).
      const after = exit.at - sent;
      assert.ok(after < 12_000, `exited ${Math.round(after)} ms after the signal`);
      if (runtime.name !== "bun") assert.ok(after >= 4_500, `exited ${Math.round(after)} ms after the signal: before its 5 s`);
      client.destroy();
      assert.equal((await client.closed).code, 1001);
    });

    it("a client that never answers the close frame before a shorter deadline is cut and counted", { skip: bunCannotWait }, async () => {
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { timeout: 1_000 });
      started.push(f);
      const clients = [await RawWebSocket.open(f.port), await RawWebSocket.open(f.port)];
      // Past the deadline (1 s after the signal, before the 5 s wait for an answer): the reply
      // comes after the cut, to a closed socket.
      for (const client of clients) client.replyDelayMs = 3_000;
      f.signal("SIGTERM");
      const exit = await f.exit(8_000);
      assert.equal(exit.code, 1, "forced at the deadline");
      const report = f.report();
      assert.equal(report?.forcedBy, "deadline");
      assert.equal(report?.connectionsCut, 2, "both WebSockets are in the report");
      for (const client of clients) assert.equal((await client.closed).code, 1001);
    });
  });
}
