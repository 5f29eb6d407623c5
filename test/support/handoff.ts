/**
 * A primary of Node's handoff (test/fixtures/handoff-primary.ts, one process per test) and its
 * workers (handoff-worker.ts), driven from the test, and a raw HTTP client that tells an answer
 * from a refusal, a reset, a close unanswered and no answer.
 */
import { type ChildProcess, fork } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { ROOT } from "./harness.ts";

type Message = Record<string, unknown> & { t: string };

/** The primary's bound on connections waiting for a worker, in these tests. */
export const TEST_WAITING_MAX = 1_024;

/** The primary, with every message of each worker (and its own, as from -1). */
export class HandoffPrimary {
  readonly #child: ChildProcess;
  readonly #messages: { from: number; message: Message }[] = [];
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<void>;

  constructor() {
    this.#child = fork(path.join(ROOT, "test/fixtures/handoff-primary.ts"), [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      // The bound the tests fill (16,384 by default, too many for a test).
      env: { ...process.env, SERVE_GRACEFULLY_HANDOFF_WAITING_MAX: String(TEST_WAITING_MAX) },
    });
    this.exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.on("message", (got: { from: number; message: Message }) => {
      this.#messages.push(got);
      for (const wake of this.#waiters) wake();
    });
  }

  /** Forks worker `i` and waits for it to be ready for commands. */
  async spawn(i: number): Promise<HandoffWorker> {
    await this.next(-1, "primary");
    this.#child.send({ spawn: i });
    const { pid } = await this.next(i, "forked");
    await this.next(i, "ready");
    return new HandoffWorker(this, i, pid as number);
  }

  send(order: Record<string, unknown>): void {
    this.#child.send(order);
  }

  /** The first message of type `t` (one of them) from worker `from` (with `id`, if given), received or to come, within `ms`. */
  next(from: number, t: string | string[], id?: number, ms = 10_000): Promise<Message> {
    const types = [t].flat();
    const find = () =>
      this.#messages.find((m) => m.from === from && types.includes(m.message.t) && (id === undefined || m.message.id === id));
    return new Promise((resolve, reject) => {
      const wake = () => {
        const found = find();
        if (found === undefined) return;
        this.#waiters.delete(wake);
        clearTimeout(timer);
        resolve(found.message);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`worker ${from}: no ${t} within ${ms} ms (got ${JSON.stringify(this.#messages)})`));
      }, ms);
      this.#waiters.add(wake);
      wake();
    });
  }

  /** Ends the primary (its workers with it). */
  async end(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** One worker of handoff-worker.ts, through its primary. */
export class HandoffWorker {
  constructor(readonly primary: HandoffPrimary, readonly i: number, readonly pid: number) {}

  send(command: Message): void {
    this.primary.send({ to: this.i, command });
  }

  next(t: string | string[], id?: number, ms?: number): Promise<Message> {
    return this.primary.next(this.i, t, id, ms);
  }

  /** Asks to listen: `{ t: "listening", port }` or `{ t: "failed", code }`. */
  listen(id: number, port: number, hostname = "127.0.0.1"): Promise<Message> {
    this.send({ t: "listen", id, hostname, port });
    return this.next(["listening", "failed"], id);
  }

  /** Asks listener `id` to stop: resolves with `{ t: "stopped", taken }` once its stop has. */
  stop(id: number): Promise<Message> {
    this.send({ t: "stop", id });
    return this.next("stopped", id);
  }

  kill(): void {
    this.primary.send({ kill: this.i });
  }
}

export type Outcome = { answer: string } | { error: string };

/**
 * A GET over a new connection: the body (the serving worker's pid), or what happened instead
 * (ECONNREFUSED, ECONNRESET, `closed` without an answer, `no answer` within `ms` or by `giveUp`).
 */
export function get(port: number, path = "/", ms = 10_000, giveUp?: Promise<void>): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    let settled = false;
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ error: "no answer" }), ms);
    void giveUp?.then(() => done({ error: "no answer" }));
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
    socket.on("close", () => {
      const at = data.indexOf("\r\n\r\n");
      done(data.startsWith("HTTP/1.1 200") && at >= 0 ? { answer: data.slice(at + 4) } : { error: "closed" });
    });
  });
}

/**
 * `n` GETs at once; once all but `spare` are answered, the rest are given up (a connection that
 * waits for a worker is answered only once one takes it). Within `ms` in any case.
 */
export async function getMany(port: number, n: number, spare: number, ms = 10_000): Promise<Outcome[]> {
  let giveUp = () => {};
  const given = new Promise<void>((resolve) => (giveUp = resolve));
  let answered = 0;
  return Promise.all(Array.from({ length: n }, () =>
    get(port, "/", ms, given).then((outcome) => {
      if ("answer" in outcome && ++answered >= n - spare) giveUp();
      return outcome;
    })));
}

/** How many of each outcome: answers by pid, errors by name. */
export function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = "answer" in o ? o.answer : o.error;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
