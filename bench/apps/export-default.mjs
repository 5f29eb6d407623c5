// The one-route app as Hono's Bun and Deno starters end: `export default app`, no server code.
// Served by the runtime's own command (`bun run`, `deno serve`) and by `serve-gracefully`.
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("Hello, bench!"));

export default app;
