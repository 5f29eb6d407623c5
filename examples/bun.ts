// bun examples/bun.ts
import { lifecycle, serveGracefully } from "../adapters/bun.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  onListen: ({ port }) => console.log(`Bun: http://localhost:${port}  (Ctrl+C drains, then exits)`),
});
