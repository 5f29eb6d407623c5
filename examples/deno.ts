// deno run -A examples/deno.ts
import { lifecycle, serveGracefully } from "../adapters/deno.ts";
import { createApp } from "./app.ts";

serveGracefully(createApp(() => lifecycle.signal), {
  onListen: ({ port }) => console.log(`Deno: http://localhost:${port}  (Ctrl+C drains, then exits)`),
});
