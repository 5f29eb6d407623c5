/**
 * Server-sent events that end cleanly on shutdown: endOnDrain sends a last event and closes the
 * stream when the drain closes the listeners (after the drain delay), so clients reconnect
 * elsewhere, not into this instance, instead of seeing a cut.
 * Run: node --import tsx examples/sse.ts (or node_modules/.bin/bun examples/sse.ts, or
 * node_modules/.bin/deno run -A examples/sse.ts), then curl -N localhost:3000/events and press
 * Ctrl+C on the server. HOST and PORT choose the address.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { hostname } from "./address.ts";
import { endOnDrain, serveGracefully } from "./runtime.ts";

const app = new Hono();
app.get("/events", (c) =>
  streamSSE(c, async (stream) => {
    endOnDrain(stream, { event: "bye", data: "server restarting, reconnect" });
    for (let i = 0; !stream.closed && !stream.aborted; i++) {
      await stream.writeSSE({ event: "tick", data: String(i) });
      await stream.sleep(1_000);
    }
  }));

serveGracefully(app, { hostname });
