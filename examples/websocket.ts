/**
 * A WebSocket echo server with each runtime's own Hono upgradeWebSocket. On the signal, open
 * sockets are closed with 1001 (going away) after the drain delay, so clients reconnect elsewhere.
 * Run: node --import tsx examples/websocket.ts | node_modules/.bin/bun examples/websocket.ts |
 * node_modules/.bin/deno run -A examples/websocket.ts. HOST and PORT choose the address.
 */
import { Hono } from "hono";
import { hostname } from "./address.ts";
import { serveGracefully } from "./runtime.ts";
import { webSocketSupport } from "./websocket-runtime.ts";

const { upgradeWebSocket, serverOptions } = await webSocketSupport();
const app = new Hono();
app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(`echo: ${event.data}`) })));

serveGracefully(app, { hostname, drainDelay: 1_000, ...serverOptions });
