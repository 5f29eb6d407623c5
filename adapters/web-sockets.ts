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

  get size(): number {
    return this.#open.size;
  }

  /** A WebSocket that opened; `closed(ws)` must be called once it has closed. */
  opened(ws: ClosableWebSocket): void {
    this.#open.add(ws);
    // Opened while the listener closes (Deno keeps it open until then): it goes away at once.
    if (this.#goingAway) goAway(ws);
  }

  closed(ws: ClosableWebSocket): void {
    this.#open.delete(ws);
    if (this.#open.size === 0) this.#allClosed?.();
  }

  /** Sends 1001 to every open WebSocket; resolves once each has closed. */
  goAway(): Promise<void> {
    this.#goingAway = true;
    for (const ws of this.#open) goAway(ws);
    return this.whenAllClosed();
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
