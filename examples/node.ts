// node --import tsx examples/node.ts  (what `npm start` runs). HOST and PORT choose the address
// (default 0.0.0.0:3000, as containers need; HOST=127.0.0.1 keeps it to this machine). Stop it with
// Ctrl+C, or a SIGTERM to this process's PID: `npm start` runs it under npm and a shell, and a
// SIGTERM sent to npm's PID never reaches it.
import { lifecycle, serveGracefully } from "../adapters/node.ts";
import { hostname } from "./address.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  hostname,
  onListen: ({ hostname, port }) => console.log(`Node: http://${hostname}:${port}  (Ctrl+C drains, then exits)`),
});
