// A user's first program, as ESM, against the installed tarball: serve one request on a free port,
// shut down, print what happened as one JSON line. Runs unchanged on Node, Bun and Deno.
import { Hono } from "hono";
import { serveGracefully } from "serve-gracefully";

// Which runtime's server answered, told by the second argument (`c.env`) each adapter passes.
const envOf = (env) => (env?.incoming ? "node" : env?.remoteAddr ? "deno" : typeof env?.upgrade === "function" ? "bun" : "unknown");

const app = new Hono().get("/", (c) => c.text(envOf(c.env)));
const server = serveGracefully(app, { port: 0, hostname: "127.0.0.1", logger: false });
const { port } = await server.ready;
const response = await fetch(`http://127.0.0.1:${port}/`);
const body = await response.text();
const report = await server.shutdown();
console.log(JSON.stringify({
  resolved: import.meta.resolve("serve-gracefully"),
  status: response.status,
  body,
  exitCode: report.exitCode,
  forced: report.forced,
}));
// No exit call: the process must end by itself once the server is shut down.
