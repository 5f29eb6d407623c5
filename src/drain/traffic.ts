/** One server's request counts, kept by its handler and read by the drain. */
import { InProgress } from "./in-progress.ts";

const never = () => false;

/** Reports once whether a response reached a live connection (`true`) or never did (`false`). */
export type ReportDelivery = (delivered: boolean) => void;

export class ServerTraffic {
  /** Set when the drain starts: readiness fails and every response closes its connection. */
  draining = false;
  /** While draining: whether the service goes on without this process (a reload replaces it), so readiness still passes. */
  inService: () => boolean = never;
  /** Handlers that returned since the server started. */
  completed = 0;
  /** While draining: responses the runtime handed to a live connection. */
  served = 0;
  /** While draining: responses that never reached their client (the connection was gone or closed first). */
  cut = 0;
  /** While set, responses wait for it before they are sent (the hold before the listeners close). */
  held: Promise<void> | undefined;
  /** Requests whose handler runs, or whose response's fate is not known yet. */
  readonly #unsettled = new InProgress();
  #sending = 0;

  /** Handlers running now. */
  get inFlight(): number {
    return this.#unsettled.count - this.#sending;
  }

  /** While draining: responses returned (held, or handed to the runtime) whose fate is not known yet. */
  get sending(): number {
    return this.#sending;
  }

  /**
   * While draining: requests that arrived without asking to close their connection, the ones a
   * keep-alive client may follow with another. The hold waits for quiet among these only: new
   * connections that each send one request and ask to close keep coming until the listener closes,
   * and waiting on them only kept it open longer (250 ms at 1,000 a second) to cut more at the close.
   */
  keptAliveArrived = 0;

  /**
   * While draining: answers the hold kept back. Their clients could send nothing meanwhile, so
   * their idle connections look idle for longer than they are (see closeIdle's `answersHeld`).
   */
  answersHeld = 0;

  /**
   * When the last answer before the drain was handed over (clock ms), on a server whose close ends
   * idle connections at once (see timeAnswers); -Infinity otherwise.
   */
  lastAnsweredAt: number = -Infinity;
  #now: (() => number) | undefined;

  /** Notes the time of each answer before the drain from now on (a clock read a request). */
  timeAnswers(now: () => number): void {
    this.#now = now;
  }

  /** No handler is running and every response's fate is known (none held). */
  get idle(): boolean {
    return this.#unsettled.count === 0;
  }

  /** Resolves once no handler is running and every response's fate is known (at once if so). */
  whenIdle(): Promise<void> {
    return this.#unsettled.whenNone();
  }

  /** A request's handler starts. */
  handlerStarted(): void {
    this.#unsettled.start();
  }

  /**
   * A request's handler returned. While draining, its response's fate is not known yet: the result
   * is to be called once when it is; otherwise the request is done (undefined).
   */
  handlerReturned(): ReportDelivery | undefined {
    this.completed++;
    if (!this.draining) {
      if (this.#now !== undefined) this.lastAnsweredAt = this.#now();
      this.#unsettled.end();
      return undefined;
    }
    this.#sending++;
    let told = false;
    return (delivered) => {
      if (told) return;
      told = true;
      this.#sending--;
      if (delivered) this.served++;
      else this.cut++;
      this.#unsettled.end();
    };
  }
}
