// The same first program as CommonJS (require), against the installed tarball.
const { Hono } = require("hono");
const { serveGracefully } = require("serve-gracefully");

const envOf = (env) => (env?.incoming ? "node" : env?.remoteAddr ? "deno" : typeof env?.upgrade === "function" ? "bun" : "unknown");

async function main() {
  const app = new Hono().get("/", (c) => c.text(envOf(c.env)));
  const server = serveGracefully(app, { port: 0, hostname: "127.0.0.1", logger: false });
  const { port } = await server.ready;
  const response = await fetch(`http://127.0.0.1:${port}/`);
  const body = await response.text();
  const report = await server.shutdown();
  console.log(JSON.stringify({
    resolved: require.resolve("serve-gracefully"),
    status: response.status,
    body,
    exitCode: report.exitCode,
    forced: report.forced,
  }));
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
