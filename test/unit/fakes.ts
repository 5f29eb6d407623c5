/**
 * A fake clock and a fake runtime for the core's unit tests: no real time passes, no socket opens,
 * no signal is sent, and every call the core makes is recorded in order.
 */
import type { Clock } from "../../src/time/clock.ts";
import { LifecycleController } from "../../src/drain/lifecycle.ts";
import { createServeGracefully } from "../../src/serve/serve.ts";
import type { AppSettled, ListenInfo, ListeningServer, RuntimeAdapter, RuntimeHandler, ShutdownSignal } from "../../src/types.ts";

/** Flush pending promise callbacks (several rounds, for chains). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  #now = 0;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #nextId = 0;

  now(): number {
    return this.#now;
  }
  wallTime(): number {
    return 1_700_000_000_000 + this.#now;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + Math.max(0, ms), fn, id });
    return () => {
      this.#timers = this.#timers.filter((t) => t.id !== id);
    };
  }
  get pendingTimers(): number {
    return this.#timers.length;
  }
  /** Time passes while the event loop is held (a synchronous call): no timer fires meanwhile. */
  block(ms: number): void {
    this.#now += ms;
  }
  /** Move time forward at once, then fire the timers now due, late (a busy event loop). */
  async jump(ms: number): Promise<void> {
    this.#now += ms;
    await settle();
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (!next || next.at > this.#now) break;
      this.#timers.shift();
      next.fn();
      await settle();
    }
  }
  /** Move time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (!next || next.at > target) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

export class FakeServer implements ListeningServer {
  port: number;
  hostname: string;
  handler: RuntimeHandler;
  open = 0;
  #closed: (() => void) | undefined;
  #closePromise: Promise<void> | undefined;
  responsesDone?: () => Promise<void>;
  idleForExit?: () => boolean;
  closesIdleWithListener?: boolean;
  constructor(readonly runtime: FakeRuntime, handler: RuntimeHandler, info: ListenInfo) {
    this.handler = handler;
    this.port = info.port || 40_000;
    this.hostname = info.hostname;
    if (runtime.tellsIdleForExit) this.idleForExit = () => this.open === 0;
    if (runtime.closesIdleWithListener) this.closesIdleWithListener = true;
    if (runtime.tellsResponsesDone) {
      this.responsesDone = () => {
        runtime.calls.push("responsesDone");
        return Promise.resolve();
      };
    }
  }
  /** Call the server's handler as the runtime would. */
  fetch(path: string, init?: RequestInit): Response | Promise<Response> {
    return this.handler(new Request(`http://127.0.0.1:${this.port}${path}`, init), { native: true });
  }
  close(): Promise<void> {
    this.runtime.calls.push("close");
    this.#closePromise ??= new Promise<void>((resolve) => (this.#closed = resolve));
    if (this.open === 0) this.#closed!();
    return this.#closePromise;
  }
  /** A stream or connection that was open has ended. */
  endConnection(): void {
    this.open--;
    if (this.open === 0 && this.#closed) this.#closed();
  }
  closeIdle(answersHeld?: boolean): void {
    this.runtime.calls.push(answersHeld === true ? "closeIdle:answersHeld" : "closeIdle");
  }
  forceClose(): boolean {
    this.runtime.calls.push("forceClose");
    this.open = 0;
    this.#closed?.();
    return this.runtime.canForce;
  }
  openConnections(): number {
    return this.open;
  }
}

export class FakeRuntime implements RuntimeAdapter {
  readonly name = "node" as const;
  calls: string[] = [];
  servers: FakeServer[] = [];
  signalListeners = new Map<ShutdownSignal, Set<() => void>>();
  fatalListeners = new Set<(error: unknown, kind: "uncaughtException" | "unhandledRejection") => void>();
  exitCodes: number[] = [];
  environment: Record<string, string> = {};
  canForce = true;
  /** Whether servers offer responsesDone() (as Node's does). */
  tellsResponsesDone = false;
  /** Whether servers say when nothing is in progress on them (as Bun's do). */
  tellsIdleForExit = false;
  /** Whether servers' close ends idle connections at once (as Bun's and Deno's does). */
  closesIdleWithListener = false;
  /** The runtime's answer to whether a request closes its connection (the core's default when unset). */
  asksToClose?: (request: Request, env: unknown) => boolean;
  /** Told as the app's handler settles, before any hold (Deno's close waits for body readers). */
  appSettled?: (request: Request, env: unknown) => void;
  /** Set while a reload replaces this worker (the core's default drain when unset). */
  replacement?: () => { holdQuietMs: number } | undefined;
  /** Set as a worker's runtime is: its exit waits for the primary's answer, polling I/O. */
  exitPollsIo?: boolean;
  /** Set as a worker's runtime is: in a drain of the whole service, resolves once every worker's listeners have closed. */
  listenersClosed?: (wholeService: boolean) => Promise<void>;
  /** The runtime's timers for a drain that ends the process (the lifecycle's clock when unset). */
  exitTimer?: (fn: () => void, ms: number) => () => void;
  listenError: unknown;

  listen(handler: RuntimeHandler, info: ListenInfo & { appSettled?: AppSettled }): Promise<ListeningServer> {
    this.calls.push(`listen:${info.port}`);
    if (this.appSettled !== undefined && info.appSettled !== undefined) info.appSettled.notify = this.appSettled;
    if (this.listenError) return Promise.reject(this.listenError);
    const server = new FakeServer(this, handler, info);
    this.servers.push(server);
    return Promise.resolve(server);
  }
  onSignal(signal: ShutdownSignal, listener: () => void): () => void {
    const set = this.signalListeners.get(signal) ?? new Set();
    set.add(listener);
    this.signalListeners.set(signal, set);
    return () => set.delete(listener);
  }
  onFatalError(listener: (error: unknown, kind: "uncaughtException" | "unhandledRejection") => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }
  exit(code: number): void {
    this.calls.push(`exit:${code}`);
    this.exitCodes.push(code);
  }
  env(name: string): string | undefined {
    return this.environment[name];
  }
  /** Deliver a signal as the process would. */
  signal(signal: ShutdownSignal): void {
    for (const listener of [...(this.signalListeners.get(signal) ?? [])]) listener();
  }
  listenerCount(): number {
    let n = this.fatalListeners.size;
    for (const set of this.signalListeners.values()) n += set.size;
    return n;
  }
}

/** A fake clock and runtime, a lifecycle on them, and serveGracefully bound to both. */
export function fakeWorld(configure: (runtime: FakeRuntime) => void = () => {}) {
  const clock = new FakeClock();
  const runtime = new FakeRuntime();
  configure(runtime);
  const lifecycle = new LifecycleController({ runtime, clock });
  const serve = createServeGracefully<object>(runtime, lifecycle, []);
  return { clock, runtime, lifecycle, serve };
}
