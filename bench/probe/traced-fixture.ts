// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * The conformance fixture (test/fixtures/server.ts, unchanged) with read-only tracing around the
 * runtime calls the drain makes, so the probe can place each client-side reset against the
 * server-side moments: signal received, listener closed, idle connections closed, sockets
 * destroyed. Every trace line carries `wall`, a wall-clock time in ms (performance.timeOrigin +
 * performance.now()) comparable with the probe's own clock.
 *
 * Nothing here changes behaviour: each patch calls the original and only prints a line.
 */
const g = globalThis as Record<string, any>;
const wall = () => performance.timeOrigin + performance.now();
const trace = (what: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ fixture: "trace", what, wall: wall(), ...fields }));

const isDeno = "Deno" in g;
const isBun = "Bun" in g;

if (isDeno) {
  g.Deno.addSignalListener("SIGTERM", () => trace("signal"));
  const serve = g.Deno.serve.bind(g.Deno);
  g.Deno.serve = (...args: unknown[]) => {
    const server = serve(...args);
    const shutdown = server.shutdown.bind(server);
    server.shutdown = () => {
      trace("deno.shutdown");
      return shutdown().then((v: unknown) => (trace("deno.shutdown.resolved"), v));
    };
    return server;
  };
} else if (isBun) {
  const { default: process } = await import("node:process");
  process.on("SIGTERM", () => trace("signal"));
  const serve = g.Bun.serve.bind(g.Bun);
  g.Bun.serve = (options: unknown) => {
    const server = serve(options);
    const stop = server.stop.bind(server);
    server.stop = (force?: boolean) => {
      trace("bun.stop", { force: !!force, pendingRequests: server.pendingRequests });
      return stop(force).then((v: unknown) => (trace("bun.stop.resolved"), v));
    };
    const closeIdle = server.closeIdleConnections?.bind(server);
    if (closeIdle) {
      server.closeIdleConnections = () => {
        trace("bun.closeIdleConnections", { pendingRequests: server.pendingRequests });
        return closeIdle();
      };
    }
    return server;
  };
} else {
  const { default: process } = await import("node:process");
  const net = await import("node:net");
  const http = await import("node:http");
  process.on("SIGTERM", () => trace("signal"));
  const netClose = net.Server.prototype.close;
  net.Server.prototype.close = function (this: any, ...args: any[]) {
    trace("net.Server.close");
    return netClose.apply(this, args as never);
  };
  const httpClose = http.Server.prototype.close;
  http.Server.prototype.close = function (this: any, ...args: any[]) {
    trace("http.Server.close(closeIdle)");
    return httpClose.apply(this, args as never);
  };
  // Sockets the server accepted: when and why each ends, and whether unread bytes were waiting.
  const socketIds = new WeakMap<object, number>();
  let nextId = 0;
  http.Server.prototype.emit = new Proxy(http.Server.prototype.emit, {
    apply(target, self, args) {
      if (args[0] === "connection") {
        const socket = args[1];
        socketIds.set(socket, ++nextId);
        const destroy = socket.destroy;
        socket.destroy = function (...a: unknown[]) {
          if (!socket.destroyed) {
            trace("socket.destroy", {
              id: socketIds.get(socket),
              httpMessage: socket._httpMessage != null,
              bytesRead: socket.bytesRead,
              readableLength: socket.readableLength,
              stack: new Error().stack?.split("\n").slice(2, 5).map((s: string) => s.trim()).join(" < "),
            });
          }
          return destroy.apply(this, a);
        };
      }
      return Reflect.apply(target, self, args);
    },
  });
}

await import("../../test/fixtures/server.ts");

export {}; // a module: the top-level awaits above need it
