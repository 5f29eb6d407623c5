/**
 * A count of work in progress and the promises waiting for none to be: one mechanism for a
 * server's requests (ServerTraffic) and the background tasks (TaskTracker).
 */
export class InProgress {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  start(): void {
    this.#count++;
  }

  /** One piece of work ended; the last one wakes everything waiting in whenNone(). */
  end(): void {
    this.#count--;
    if (this.#count === 0) { for (const wake of this.#waiters.splice(0)) wake(); }
  }

  /** Resolves once nothing is in progress (at once if nothing is). */
  whenNone(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
