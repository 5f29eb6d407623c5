/**
 * The request path, kept as short as it can be: health probes, the shared ExecutionContext, the
 * in-flight count, and (only while draining) the `Connection: close` that rotates keep-alive
 * connections off this server.
 */
import { healthMatcher, healthResponse } from "./health.ts";
import type { Readiness } from "../drain/readiness.ts";
import type { ServerTraffic } from "../drain/traffic.ts";
import type { TaskTracker } from "../drain/tasks.ts";
import type { AppSettled, ExecutionContext, FetchApp, RuntimeHandler } from "../types.ts";

/**
 * The default fate of a response (Bun): served when the client is still connected as the handler
 * returns it (`request.signal` not aborted), cut otherwise.
 */
export function deliveredIfConnected(_response: Response, request: Request, _env: unknown, delivered: (delivered: boolean) => void): void {
  delivered(!request.signal.aborted);
}

/** Whether the client asked to close its connection after this request (`Connection: close`). */
export function asksToClose(request: Request): boolean {
  const connection = request.headers.get("connection");
  return connection !== null && connection.split(",").some((token) => token.trim().toLowerCase() === "close");
}

/** Marks a response so the runtime closes its connection after sending it. */
export function withConnectionClose(response: Response): Response {
  // A 101 (WebSocket upgrade) must keep its own Connection header.
  if (!response || response.status === 101) return response;
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (Response.redirect, a proxied fetch response): copy, then mark.
    const copy = new Response(response.body, response);
    copy.headers.set("connection", "close");
    return copy;
  }
}

export interface HandlerOptions {
  app: FetchApp;
  health: { ready: string | false; live: string | false };
  /** The lifecycle's startup gate and checks, read by /readyz only. */
  readiness?: Readiness;
  traffic: ServerTraffic;
  tasks: TaskTracker;
  closeConnectionAfter: (response: Response, env: unknown) => Response | Promise<Response>;
  /** Whether the client asked to close its connection (read once per request, only while draining). */
  asksToClose: (request: Request, env: unknown) => boolean;
  /** Tells `delivered(true)` once the runtime has the response for a live connection, `false` if it never will. */
  watchDelivery: (response: Response, request: Request, env: unknown, delivered: (delivered: boolean) => void) => void;
  /** Told as the app's handler settles, before any hold (the runtime's, if it set one in listen()). */
  appSettled?: AppSettled;
  onHandlerError: (error: unknown) => void;
}

export function createHandler(options: HandlerOptions): RuntimeHandler {
  const { app, traffic, tasks, closeConnectionAfter, watchDelivery, onHandlerError } = options;
  const appSettled = options.appSettled ?? {};
  const probe = healthMatcher(options.health);
  // One context for every request: waitUntil needs no per-request state, so none is allocated.
  // `props` is frozen so that no request can leave state in it for the next one.
  const executionCtx: ExecutionContext = {
    waitUntil: (promise) => tasks.add(promise),
    passThroughOnException() {},
    props: Object.freeze({}),
  };
  // While draining, a response is counted by what the runtime does with it (served or cut), and
  // marked to close its connection when the handover happens: after the hold, so that a request
  // that arrives meanwhile on the same connection is known.
  const handOver = (
    response: Response,
    request: Request,
    env: unknown,
    delivered: (delivered: boolean) => void,
  ): Response | Promise<Response> => {
    const marked = closeConnectionAfter(response, env);
    if (marked instanceof Promise) return marked.then((m) => (watchDelivery(m, request, env, delivered), m));
    watchDelivery(marked, request, env, delivered);
    return marked;
  };
  // `closes` is known when the request arrived during the drain; one that began before it is asked here.
  const settle = (response: Response, request: Request, env: unknown, closes?: boolean): Response | Promise<Response> => {
    const delivered = traffic.handlerReturned();
    if (delivered === undefined) return response;
    // The hold waits for a keep-alive client's next request; a client that asked to close sends
    // none, so its answer goes now (held, such answers pile up open connections at the close).
    const held = (closes ?? options.asksToClose(request, env)) ? undefined : traffic.held;
    if (held === undefined) return handOver(response, request, env, delivered);
    traffic.answersHeld++;
    return held.then(() => handOver(response, request, env, delivered));
  };
  const fail = (error: unknown, request: Request, env: unknown, closes?: boolean): Response | Promise<Response> => {
    onHandlerError(error);
    return settle(new Response("Internal Server Error", { status: 500 }), request, env, closes);
  };

  return (request, env) => {
    if (probe !== undefined) {
      const kind = probe(request.url);
      if (kind !== undefined) {
        appSettled.notify?.(request, env);
        return healthResponse(kind, request.url, traffic, options.readiness);
      }
    }
    traffic.handlerStarted();
    // Only while draining (a header read per request otherwise): what the hold waits for.
    const closes = traffic.draining ? options.asksToClose(request, env) : undefined;
    if (closes === false) traffic.keptAliveArrived++;
    let result: Response | Promise<Response>;
    try {
      result = app.fetch(request, env, executionCtx);
    } catch (error) {
      appSettled.notify?.(request, env);
      return fail(error, request, env, closes);
    }
    if (result instanceof Promise) {
      return result.then(
        (response) => (appSettled.notify?.(request, env), settle(response, request, env, closes)),
        (error) => (appSettled.notify?.(request, env), fail(error, request, env, closes)),
      );
    }
    appSettled.notify?.(request, env);
    return settle(result, request, env, closes);
  };
}
