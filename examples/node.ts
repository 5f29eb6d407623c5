// npm start  (or: npx tsx examples/node.ts)
import { lifecycle, serveGracefully } from "../adapters/node.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  onListen: ({ port }) => console.log(`Node: http://localhost:${port}  (Ctrl+C drains, then exits)`),
});
