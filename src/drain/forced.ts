/**
 * What a forced drain says: which budget ran out, and what the drain was still waiting for at
 * that moment, so an operator reading `drain.forced` (or the report) knows the cause without
 * guessing: a request that never answered, a stream left open, a task, a server whose runtime
 * never finished closing, a part's start or stop.
 */
import type { ForcedFacts } from "../log/events.ts";
import type { ServerPart } from "./parts.ts";
import type { TaskTracker } from "./tasks.ts";
import type { DeadlineBudget, WaitingFor } from "../types.ts";

/**
 * The servers' budget: the timeout less what the parts keep for their stops. "deadline" when
 * nothing is kept (the whole timeout ran out), "stop-reserve" when the servers' share ended
 * earlier so that the parts' stops still get their time.
 */
export function deadlineBudget(timeoutMs: number, stopReserveMs: number): DeadlineBudget {
  return {
    budget: stopReserveMs > 0 ? "stop-reserve" : "deadline",
    budgetMs: timeoutMs - stopReserveMs,
    stopReserveMs,
    timeoutMs,
  };
}

/** Tracks the waits the counters cannot tell: a server's close, a part's start or stop. */
export class DrainWaits {
  #closing = new Set<string>();
  #step: string | undefined;

  /** A server's close in progress, until `closed` settles. */
  closing(name: string, closed: Promise<void>): Promise<void> {
    this.#closing.add(name);
    void closed.then(() => this.#closing.delete(name), () => this.#closing.delete(name));
    return closed;
  }

  /** A step the drain waits on (`"start of db"`, `"stop of db"`), until `work` settles. */
  during<T>(step: string | undefined, work: Promise<T>): Promise<T> {
    if (step === undefined) return work;
    this.#step = step;
    const done = () => {
      if (this.#step === step) this.#step = undefined;
    };
    void work.then(done, done);
    return work;
  }

  /** What is still pending now, on these servers and tasks. */
  now(servers: readonly ServerPart[], tasks: TaskTracker): WaitingFor {
    let connections: number | undefined;
    for (const server of servers) {
      const open = server.listening?.openConnections();
      if (open !== undefined) connections = (connections ?? 0) + open;
    }
    const waiting: WaitingFor = {
      requests: servers.reduce((n, s) => n + s.traffic.inFlight, 0),
      responses: servers.reduce((n, s) => n + s.traffic.sending, 0),
      tasks: tasks.pending,
      serversClosing: [...this.#closing],
    };
    if (connections !== undefined) waiting.connections = connections;
    if (this.#step !== undefined) waiting.step = this.#step;
    return waiting;
  }
}

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** `waiting` in words: "1 request in flight, 2 waitUntil tasks, server:8080 to close". */
export function describeWaiting(waiting: WaitingFor): string {
  const parts: string[] = [];
  if (waiting.step !== undefined) parts.push(`the ${waiting.step}`);
  if (waiting.requests > 0) parts.push(count(waiting.requests, "request in flight", "requests in flight"));
  if (waiting.responses > 0) parts.push(count(waiting.responses, "response being sent", "responses being sent"));
  if (waiting.tasks > 0) parts.push(count(waiting.tasks, "waitUntil task", "waitUntil tasks"));
  if (waiting.connections !== undefined && waiting.connections > 0) {
    parts.push(count(waiting.connections, "open connection or stream", "open connections or streams"));
  }
  // A close still pending with none of the above: the runtime holds a connection it does not count
  // (Bun: one that never sent a request). With any of the above, that is what the close waits on.
  if (parts.length === 0) { for (const name of waiting.serversClosing) parts.push(`${name} to close`); }
  return parts.length > 0 ? parts.join(", ") : "nothing it could name";
}

/** What a forced drain says: the budget that ran out (when the deadline forced it) and what it waited for. */
export function forcedFacts(by: "deadline" | "second-signal", budget: DeadlineBudget, waitingFor: WaitingFor): ForcedFacts {
  return { budget: by === "deadline" ? budget : undefined, waitingFor, waiting: describeWaiting(waitingFor) };
}
