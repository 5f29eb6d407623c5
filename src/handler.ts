/**
 * The request path, kept as short as it can be: health probes, the shared ExecutionContext, the
 * in-flight count, and (only while draining) the `Connection: close` that rotates keep-alive
 * connections off this server.
 */
import { healthMatcher, healthResponse } from "./health.ts";
import type { Readiness } from "./readiness.ts";
import type { TaskTracker } from "./tasks.ts";
import type { ExecutionContext, FetchApp, RuntimeHandler } from "./types.ts";

/** Per-server request counters, read by the drain. */
export class RequestState {
  /** Set when the drain starts: readiness fails and every response closes its connection. */
  draining = false;
  /** Handlers running now. */
  inFlight = 0;
  /** Requests completed since the server started. */
  completed = 0;
  /** While set, responses wait for it before they are sent (the hold; see the drain). */
  held: Promise<void> | undefined;
  #waiters: (() => void)[] = [];

  /** Requests that have arrived so far (running or completed). */
  get arrived(): number {
    return this.inFlight + this.completed;
  }

  /** Resolves once no handler is running (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Called by the handler, while draining, when the last running handler settles. */
  wakeIdleWaiters(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
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
  state: RequestState;
  tasks: TaskTracker;
  closeConnectionAfter: (response: Response, env: unknown) => Response;
  onHandlerError: (error: unknown) => void;
}

export function createHandler(options: HandlerOptions): RuntimeHandler {
  const { app, state, tasks, closeConnectionAfter, onHandlerError } = options;
  const probe = healthMatcher(options.health);
  // One context for every request: waitUntil needs no per-request state, so none is allocated.
  // `props` is frozen so that no request can leave state in it for the next one.
  const executionCtx: ExecutionContext = {
    waitUntil: (promise) => tasks.add(promise),
    passThroughOnException() {},
    props: Object.freeze({}),
  };
  const settle = (response: Response, env: unknown): Response | Promise<Response> => {
    state.inFlight--;
    state.completed++;
    if (!state.draining) return response;
    if (state.inFlight === 0) state.wakeIdleWaiters();
    const marked = closeConnectionAfter(response, env);
    return state.held === undefined ? marked : state.held.then(() => marked);
  };
  const fail = (error: unknown, env: unknown): Response | Promise<Response> => {
    onHandlerError(error);
    return settle(new Response("Internal Server Error", { status: 500 }), env);
  };

  return (request, env) => {
    if (probe !== undefined) {
      const kind = probe(request.url);
      if (kind !== undefined) return healthResponse(kind, request.url, request.method, state, options.readiness);
    }
    state.inFlight++;
    let result: Response | Promise<Response>;
    try {
      result = app.fetch(request, env, executionCtx);
    } catch (error) {
      return fail(error, env);
    }
    if (result instanceof Promise) {
      return result.then((response) => settle(response, env), (error) => fail(error, env));
    }
    return settle(result, env);
  };
}
