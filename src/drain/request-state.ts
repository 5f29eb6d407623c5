/** Per-server request counters, read by the drain. */
export class RequestState {
  /** Set when the drain starts: readiness fails and every response closes its connection. */
  draining = false;
  /** Handlers running now. */
  inFlight = 0;
  /** Handlers that returned since the server started. */
  completed = 0;
  /** While draining: responses returned (held, or handed to the runtime) whose fate is not known yet. */
  sending = 0;
  /** While draining: responses the runtime handed to a live connection. */
  served = 0;
  /** While draining: responses that never reached their client (the connection was gone or closed first). */
  cut = 0;
  /** While set, responses wait for it before they are sent (the hold; see the drain). */
  held: Promise<void> | undefined;
  #waiters: (() => void)[] = [];

  /**
   * While draining: requests that arrived without asking to close their connection, the ones a
   * keep-alive client may follow with another. The hold waits for quiet among these only: new
   * connections that each send one request and ask to close keep coming until the listener closes,
   * and waiting on them only kept it open longer (250 ms at 1,000 a second) to cut more at the close.
   */
  keptAliveArrived = 0;

  /** No handler is running and every response's fate is known (none held). */
  get idle(): boolean {
    return this.inFlight === 0 && this.sending === 0;
  }

  /** Resolves once no handler is running and every response's fate is known (at once if so). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** A handler returned while draining; call the result once with its response's fate. */
  sent(): (delivered: boolean) => void {
    this.sending++;
    let told = false;
    return (delivered) => {
      if (told) return;
      told = true;
      this.sending--;
      if (delivered) this.served++;
      else this.cut++;
      this.#wakeIfIdle();
    };
  }

  #wakeIfIdle(): void {
    if (this.idle) { for (const wake of this.#waiters.splice(0)) wake(); }
  }
}
