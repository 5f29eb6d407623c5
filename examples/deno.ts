// node_modules/.bin/deno run -A examples/deno.ts  (not `npx deno ...`: npx exits at once on a
// SIGTERM and leaves Deno running, orphaned). HOST and PORT choose the address (default 0.0.0.0:3000).
import { lifecycle, serveGracefully } from "../adapters/deno.ts";
import { hostname } from "./address.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  hostname,
  onListen: ({ hostname, port }) => console.log(`Deno: http://${hostname}:${port}  (Ctrl+C drains, then exits)`),
});
