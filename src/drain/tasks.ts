import { invalid } from "../check/input.ts";
import { InProgress } from "./in-progress.ts";

/**
 * Background work that outlives its request (`c.executionCtx.waitUntil`) or belongs to no request
 * (`lifecycle.waitUntil`). The drain waits for it; a rejection is counted and reported, never thrown.
 */
export class TaskTracker {
  readonly #pending = new InProgress();
  #settled = 0;
  #failed = 0;
  readonly #onFailure: (error: unknown) => void;

  constructor(onFailure: (error: unknown) => void) {
    this.#onFailure = onFailure;
  }

  /** Track a promise until it settles. Anything that is not a thenable is a TypeError. */
  add(task: Promise<unknown>): void {
    if (task === null || typeof (task as { then?: unknown })?.then !== "function") {
      invalid("waitUntil", undefined, "a promise", task);
    }
    this.#pending.start();
    Promise.resolve(task).then(
      () => this.#done(),
      (error) => {
        this.#failed++;
        this.#done();
        this.#onFailure(error);
      },
    );
  }

  get pending(): number {
    return this.#pending.count;
  }

  /** Tasks settled so far (fulfilled or rejected). */
  get settled(): number {
    return this.#settled;
  }

  get failed(): number {
    return this.#failed;
  }

  /** Resolves once no task is pending (at once if none is). */
  idle(): Promise<void> {
    return this.#pending.whenNone();
  }

  #done(): void {
    this.#settled++;
    this.#pending.end();
  }
}
