/**
 * The WebSockets open on one server, closed with 1001 (going away) when its listener closes. The
 * drain waits, until its deadline, for each closing handshake (RFC 6455 section 7.1.1): the
 * client's close frame, then the server closes the TCP connection. Ending the process before that
 * resets the connection, and browsers report the close as not clean.
 */

/** What each runtime's WebSocket offers for this (ws on Node, ServerWebSocket on Bun, Deno's WebSocket). */
export interface ClosableWebSocket {
  close(code: number, reason: string): void;
}

export class OpenWebSockets {
  readonly #open = new Set<ClosableWebSocket>();
  #allClosed: (() => void) | undefined;
  #goingAway = false;

  /**
   * `flushed(ws)`: resolves once what the server has sent on `ws` has left the runtime for the
   * socket (Bun: its send buffer empties), so that the close frame goes after it. Without it, the
   * 1001 is sent at once (ws on Node and Deno send the close frame after the queued data anyway).
   */
  constructor(readonly flushed?: (ws: ClosableWebSocket) => Promise<void>) {}

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
    this.#open.delete(ws);
    if (this.#open.size === 0) this.#allClosed?.();
  }

  /** Sends 1001 to every open WebSocket; resolves once each has closed. */
  goAway(): Promise<void> {
    this.#goingAway = true;
    for (const ws of this.#open) this.#goAway(ws);
    return this.whenAllClosed();
  }

  #goAway(ws: ClosableWebSocket): void {
    if (this.flushed === undefined) return goAway(ws);
    // Until it is flushed the WebSocket stays open, and the drain waits for it (its deadline cuts).
    void this.flushed(ws).then(() => goAway(ws), () => goAway(ws));
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
