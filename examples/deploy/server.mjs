// The app the deploy examples run, unchanged on Node, Bun and Deno: plain JavaScript, so each
// runtime runs it as is (no build step in the image). "serve-gracefully" picks its adapter by the
// runtime's export condition. The two env variables below are this example's own, read here and
// passed as options; unset, the library defaults apply (timeout 25000 ms, drainDelay 0,
// keepAliveTimeout 75000 ms).
import { Hono } from "hono";
import { serveGracefully } from "serve-gracefully";

const env = (name) => globalThis.process?.env[name] || undefined; // process exists on all three
const ms = (name) => (env(name) === undefined ? undefined : Number(env(name)));

const app = new Hono();
app.get("/", (c) => c.text("hello\n"));

// Listens on PORT (default 3000) on 0.0.0.0; /readyz and /livez are answered before the app.
serveGracefully(app, {
  timeout: ms("SHUTDOWN_TIMEOUT_MS"), // from the signal to the forced stop; must end before SIGKILL
  drainDelay: ms("DRAIN_DELAY_MS"), // keep serving, /readyz at 503, while load balancers catch up
  keepAliveTimeout: ms("KEEP_ALIVE_TIMEOUT_MS"), // idle keep-alive time: longer than the balancer's
});
