/**
 * A WebSocket echo server with each runtime's own Hono upgradeWebSocket. On the signal, open
 * sockets are closed with 1001 (going away) after the drain delay, so clients reconnect elsewhere.
 * Run: npx tsx examples/websocket.ts | npx bun examples/websocket.ts | npx deno run -A examples/websocket.ts
 */
import { Hono } from "hono";
import { serveGracefully } from "./runtime.ts";
import { webSocketSupport } from "./websocket-runtime.ts";

const { upgradeWebSocket, serverOptions } = await webSocketSupport();
const app = new Hono();
app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(`echo: ${event.data}`) })));

serveGracefully(app, { drainDelay: 1_000, ...serverOptions });
