/**
 * Bun adapter, on Bun.serve (https://bun.sh/docs/api/http). Maps the Bun server and process
 * signals onto the core, nothing more.
 */
import {
  createServeGracefully,
  Lifecycle,
  type LifecycleOptions,
  type ListeningServer,
  type RuntimeAdapter,
  type ServeGracefully,
} from "../src/index.ts";

/** Bun.serve's own options, passed through (the second argument, `c.env`, stays the Bun server). */
export interface BunServerOptions {
  tls?: unknown;
  idleTimeout?: number;
  maxRequestBodySize?: number;
  websocket?: unknown;
  reusePort?: boolean;
  ipv6Only?: boolean;
  development?: boolean;
}
const BUN_KEYS = ["tls", "idleTimeout", "maxRequestBodySize", "websocket", "reusePort", "ipv6Only", "development"] as const;

const runtime: RuntimeAdapter = {
  name: "bun",
  listen(handler, { hostname, port, server: extra }) {
    let server: ReturnType<typeof Bun.serve>;
    try {
      // Bun.serve binds synchronously and throws when it cannot.
      server = Bun.serve({ ...extra, hostname, port, fetch: handler } as Parameters<typeof Bun.serve>[0]);
    } catch (error) {
      return Promise.reject(error);
    }
    let stopped: Promise<void> | undefined;
    const listening: ListeningServer = {
      port: server.port ?? port,
      hostname,
      // stop(): closes the listener and idle connections, lets in-flight responses finish, and
      // resolves when the last connection is gone.
      close: () => (stopped ??= server.stop()),
      closeIdle: () => server.closeIdleConnections?.(),
      forceClose() {
        // Cuts streams and WebSockets (1001) and resolves the pending stop().
        void server.stop(true);
        return true;
      },
      openConnections: () => server.pendingRequests + server.pendingWebSockets,
    };
    return Promise.resolve(listening);
  },
  onSignal(signal, listener) {
    process.on(signal, listener);
    return () => process.off(signal, listener);
  },
  onFatalError(listener) {
    const onException = (error: unknown) => listener(error, "uncaughtException");
    const onRejection = (reason: unknown) => listener(reason, "unhandledRejection");
    process.on("uncaughtException", onException);
    process.on("unhandledRejection", onRejection);
    return () => {
      process.off("uncaughtException", onException);
      process.off("unhandledRejection", onRejection);
    };
  },
  exit: (code) => process.exit(code),
  env: (name) => process.env[name],
};

/** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
export function createLifecycle(options: Omit<LifecycleOptions, "runtime"> = {}): Lifecycle {
  return new Lifecycle({ ...options, runtime });
}

/** The process-wide lifecycle every server joins unless told otherwise. */
export const lifecycle: Lifecycle = createLifecycle();

/** Serve a Hono app (or any fetch handler) on Bun, with graceful shutdown. */
export const serveGracefully: ServeGracefully<BunServerOptions> = createServeGracefully<BunServerOptions>(runtime, lifecycle, BUN_KEYS);

export * from "../src/public.ts";
