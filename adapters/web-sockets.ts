/**
 * The WebSockets open on one server, closed with 1001 (going away) when its listener closes. The
 * drain waits for each closing handshake (RFC 6455 section 7.1.1): the client's close frame, then
 * the server closes the TCP connection. Ending the process before that resets the connection, and
 * browsers report the close as not clean. A client that has not answered CLOSE_ANSWER_WAIT_MS
 * after its 1001 is taken as gone (a dead peer would otherwise hold every drain to its deadline).
 */

/**
 * How long a client has to answer its 1001 with its close frame. Live clients answer within a round
 * trip (Chromium, ws: at once); ws's own wait for the same is 30 s, far past most deadlines.
 */
export const CLOSE_ANSWER_WAIT_MS = 5_000;

/** What each runtime's WebSocket offers for this (ws on Node, ServerWebSocket on Bun, Deno's WebSocket). */
export interface ClosableWebSocket {
  close(code: number, reason: string): void;
  /** Ends the connection without the handshake (ws, Bun); without it (Deno) the server's close ends it. */
  terminate?(): void;
  /** Bytes sent but not yet handed to the socket (ws, Deno): a client still reading them is not gone. */
  readonly bufferedAmount?: number;
  /** 0 while still connecting (Deno's, between its upgrade and its open), as the WebSocket API says. */
  readonly readyState?: number;
  /** Deno's (the WebSocket API's): its open, awaited by a 1001 for a socket still connecting. */
  addEventListener?(type: "open", listener: () => void, options: { once: true }): void;
}

/** The WebSocket API's readyState while the opening handshake is under way. */
const CONNECTING = 0;

/** Runs `fn` after `ms`; returns its cancel. */
export type WaitTimer = (fn: () => void, ms: number) => () => void;

const setTimer: WaitTimer = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
};

export class OpenWebSockets {
  readonly #open = new Set<ClosableWebSocket>();
  /** The cancel of the wait for each client's answer to its 1001. */
  readonly #unanswered = new Map<ClosableWebSocket, () => void>();
  #allClosed: (() => void) | undefined;
  #goingAway = false;

  /**
   * `flushed(ws)`: resolves once what the server has sent on `ws` has left the runtime for the
   * socket (Bun: its send buffer empties), so that the close frame goes after it. Without it, the
   * 1001 is sent at once (ws on Node and Deno send the close frame after the queued data anyway).
   */
  constructor(
    readonly flushed?: (ws: ClosableWebSocket) => Promise<void>,
    readonly timer: WaitTimer = setTimer,
  ) {}

  get size(): number {
    return this.#open.size;
  }

  /** A WebSocket that opened; `closed(ws)` must be called once it has closed. */
  opened(ws: ClosableWebSocket): void {
    this.#open.add(ws);
    // Opened while the listener closes (Deno keeps it open until then): it goes away at once.
    if (this.#goingAway) this.#goAway(ws);
  }

  closed(ws: ClosableWebSocket): void {
    if (!this.#open.delete(ws)) return;
    this.#unanswered.get(ws)?.();
    this.#unanswered.delete(ws);
    if (this.#open.size === 0) this.#allClosed?.();
  }

  /** Sends 1001 to every open WebSocket; resolves once each has closed. */
  goAway(): Promise<void> {
    this.#goingAway = true;
    for (const ws of this.#open) this.#goAway(ws);
    return this.whenAllClosed();
  }

  #goAway(ws: ClosableWebSocket): void {
    // Upgraded as the listener closes (Deno keeps it open until then) and not open yet: Deno's
    // close() does nothing then, and the socket went on serving until the 5 s answer wait took it
    // for gone (a stream of such upgrades held a drain to its deadline). It goes away once open.
    if (ws.readyState === CONNECTING && ws.addEventListener !== undefined) {
      return ws.addEventListener("open", () => this.#open.has(ws) && this.#goAway(ws), { once: true });
    }
    if (this.flushed === undefined) return this.#sendGoingAway(ws);
    // Until it is flushed the WebSocket stays open, and the drain waits for it (its deadline cuts):
    // a client still reading what was sent is not gone.
    const send = () => this.#sendGoingAway(ws);
    void this.flushed(ws).then(send, send);
  }

  #sendGoingAway(ws: ClosableWebSocket): void {
    // Still sending what came before (ws and Deno queue the 1001 behind it; Deno counts it as 0
    // once close() is called): a client reading slowly is not gone, and the deadline bounds it.
    const sending = (ws.bufferedAmount ?? 0) > 0;
    goAway(ws);
    if (!sending && this.#open.has(ws) && !this.#unanswered.has(ws)) this.#awaitAnswer(ws);
  }

  /** Gives the client CLOSE_ANSWER_WAIT_MS for its close frame, counted from when it has all we sent. */
  #awaitAnswer(ws: ClosableWebSocket): void {
    this.#unanswered.set(
      ws,
      this.timer(() => {
        this.#unanswered.delete(ws);
        if (!this.#open.has(ws)) return;
        // Still taking what was sent before the 1001 (ws counts it after close()): a slow reader.
        if ((ws.bufferedAmount ?? 0) > 0) return this.#awaitAnswer(ws);
        // Gone. ws and Bun end the connection, and their close event calls closed(); Deno's
        // shutdown() ends it once nothing else is waited for.
        if (ws.terminate === undefined) return this.closed(ws);
        try {
          ws.terminate();
        } catch {
          this.closed(ws);
        }
      }, CLOSE_ANSWER_WAIT_MS),
    );
  }

  /** Resolves once no WebSocket is open. */
  whenAllClosed(): Promise<void> {
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#allClosed;
      this.#allClosed = () => {
        this.#allClosed = undefined;
        previous?.();
        resolve();
      };
    });
  }
}

function goAway(ws: ClosableWebSocket): void {
  try {
    ws.close(1001, "server shutting down");
  } catch {
    // Not open yet, or already closing (the runtime says so by throwing): it ends on its own.
  }
}
