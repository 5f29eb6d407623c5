/**
 * A WebSocket echo server with each runtime's own Hono upgradeWebSocket. On the signal, open
 * sockets are closed with 1001 (going away) after the drain delay, so clients reconnect elsewhere.
 * Run: npx tsx examples/websocket.ts | npx bun examples/websocket.ts | npx deno run -A examples/websocket.ts
 */
import { Hono } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import { runtimeName, serveGracefully } from "./runtime.ts";

// Each runtime has its own upgradeWebSocket; on Node and Bun the server needs a `websocket` option.
let upgradeWebSocket: UpgradeWebSocket;
let serverOptions: Record<string, unknown> = {};
if (runtimeName === "bun") {
  const created = (await import("hono/bun")).createBunWebSocket();
  upgradeWebSocket = created.upgradeWebSocket as UpgradeWebSocket;
  serverOptions = { websocket: created.websocket };
} else if (runtimeName === "deno") {
  upgradeWebSocket = (await import("hono/deno")).upgradeWebSocket as UpgradeWebSocket;
} else {
  upgradeWebSocket = (await import("@hono/node-server")).upgradeWebSocket as unknown as UpgradeWebSocket;
  const { WebSocketServer } = await import("ws");
  serverOptions = { websocket: { server: new WebSocketServer({ noServer: true }) } };
}

const app = new Hono();
app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(`echo: ${event.data}`) })));

serveGracefully(app, { drainDelay: 1_000, ...serverOptions });
