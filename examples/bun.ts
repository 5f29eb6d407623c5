// node_modules/.bin/bun examples/bun.ts  (not `npx bun ...`: npx exits at once on a SIGTERM and
// leaves Bun running, orphaned). HOST and PORT choose the address (default 0.0.0.0:3000).
import { lifecycle, serveGracefully } from "../adapters/bun.ts";
import { hostname } from "./address.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  hostname,
  onListen: ({ hostname, port }) => console.log(`Bun: http://${hostname}:${port}  (Ctrl+C drains, then exits)`),
});
