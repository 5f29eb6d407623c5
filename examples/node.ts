// npm start  (or: npx tsx examples/node.ts). HOST and PORT choose the address (default 0.0.0.0:3000,
// as containers need; HOST=127.0.0.1 keeps it to this machine). Stop it with Ctrl+C: `npm start`
// runs it under npm and a shell, and a SIGTERM sent to npm's PID never reaches this process.
import process from "node:process";
import { lifecycle, serveGracefully } from "../adapters/node.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  hostname: process.env.HOST || undefined,
  onListen: ({ hostname, port }) => console.log(`Node: http://${hostname}:${port}  (Ctrl+C drains, then exits)`),
});
