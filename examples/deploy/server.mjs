// The app the deploy examples run, unchanged on Node, Bun and Deno: plain JavaScript, so each
// runtime runs it as is (no build step in the image). No server code: the Dockerfiles start it with
// the `serve-gracefully` command, which serves the default export on PORT (0.0.0.0) with /readyz
// and /livez, and reads the shutdown settings from the environment: SHUTDOWN_TIMEOUT_MS,
// DRAIN_DELAY_MS, KEEP_ALIVE_TIMEOUT_MS (unset: the platform's defaults; see `serve-gracefully --help`).
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("hello\n"));

// Parts the process owns (a database pool, a queue consumer): started before the server listens,
// stopped in reverse order after the drain, checked by /readyz.
// export function lifecycle(lc) {
//   lc.add({ name: "db", start: () => pool.connect(), stop: () => pool.end(), check: () => pool.query("select 1") });
// }

export default app;
