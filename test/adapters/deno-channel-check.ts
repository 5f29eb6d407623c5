/**
 * The Deno workers' channel (adapters/deno-workers.ts) on real processes and sockets, run by Deno:
 * messages both ways, a worker's last line read before its exit is told, a connection without a
 * known token or with an endless line cut off, and the channel's variable not passed on. Prints
 * "N passed, N failed"; exits 1 on a failure.
 */
import assert from "node:assert/strict";
import { type Check, runChecks } from "../support/checks.ts";
import { CHANNEL_ENV, DenoWorkerChannels, type DenoWorkersApi, MAX_LINE_CHARS } from "../../adapters/deno-workers.ts";

const deno = (globalThis as unknown as {
  Deno: DenoWorkersApi & { execPath(): string; exit(code: number): never };
}).Deno;
/** A raw connection to the primary's listener, as a stranger would open one. */
const connect = (port: number) =>
  (deno as unknown as { connect(options: object): Promise<DenoConn> }).connect({ hostname: "127.0.0.1", port });
interface DenoConn {
  readable: ReadableStream<Uint8Array>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}
const WORKER = new URL("../fixtures/deno-channel-worker.ts", import.meta.url).pathname;

/** Resolves with the first value `check` returns for a message, within `ms`. */
function waitFor<T>(messages: unknown[], check: (message: unknown) => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const look = () => {
      for (const message of messages) {
        const found = check(message);
        if (found !== undefined) return resolve(found);
      }
      if (performance.now() > deadline) {
        return reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages).slice(0, 300)}`));
      }
      setTimeout(look, 5);
    };
    look();
  });
}

function startWorker(channels: DenoWorkerChannels, env: Record<string, string> = {}) {
  const messages: unknown[] = [];
  let exit: { code: number | null; signal: string | null; messagesBefore: number } | undefined;
  const worker = channels.spawn(deno.execPath(), ["run", "-A", WORKER], env, {
    message: (message) => messages.push(message),
    exit: (code, signal) => (exit = { code, signal, messagesBefore: messages.length }),
  });
  return { worker, messages, exited: () => exit };
}

/** Whether the primary closes this connection within `ms` (reads until the end). */
async function closedWithin(conn: DenoConn, ms: number): Promise<boolean> {
  const reader = conn.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = (async () => {
    while (!(await reader.read().catch(() => ({ done: true }))).done);
    return true;
  })();
  const result = await Promise.race([ended, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return result;
}

const line = (message: unknown) => new TextEncoder().encode(`${JSON.stringify(message)}\n`);

const checks: Check[] = [
  ["carries messages both ways, and the worker's last line arrives before its exit is told", async () => {
    const channels = new DenoWorkerChannels(deno);
    const w = startWorker(channels);
    const hello = await waitFor(w.messages, (m) => (m as { port?: number }).port, "the worker's first line");
    assert.ok(hello > 0);
    assert.equal((w.messages[0] as { inherited: unknown }).inherited, null, `${CHANNEL_ENV} is deleted once read`);
    w.worker.send({ sg: "drain", signal: "SIGTERM" });
    await waitFor(w.messages, (m) => (m as { echo?: unknown }).echo, "the echo");
    w.worker.send({ exit: 7 });
    const exit = await waitFor([0], () => w.exited(), "the exit");
    assert.equal(exit.code, 7);
    assert.ok(w.messages.some((m) => typeof (m as { last?: unknown }).last === "string"), "the last line was read before the exit");
  }],
  ["a worker that sends its line and exits while the primary is busy: the line is told before the exit", async () => {
    // The primary busy (a loaded machine) while the worker connects, sends and exits: its exit and
    // its connection wait together. The exit was told at once and the token forgotten, so the
    // connection's hello came too late and its line (a start failure's cause) was dropped.
    const channels = new DenoWorkerChannels(deno);
    const w = startWorker(channels, { EXIT_AT_ONCE: "1" });
    const busyUntil = performance.now() + 1_500;
    while (performance.now() < busyUntil); // the worker starts, connects, sends and exits meanwhile
    const exit = await waitFor([0], () => w.exited(), "the exit");
    assert.equal(exit.code, 1);
    assert.ok(exit.messagesBefore >= 1, `its line was told before its exit: ${JSON.stringify(w.messages)}`);
  }],
  ["cuts off a connection with an unknown token, or a line longer than the limit, and delivers nothing from it", async () => {
    const channels = new DenoWorkerChannels(deno);
    const w = startWorker(channels);
    const port = await waitFor(w.messages, (m) => (m as { port?: number }).port, "the worker's first line");
    const before = w.messages.length;
    const stranger = await connect(port);
    await stranger.write(line({ token: "0".repeat(32) }));
    await stranger.write(line({ sg: "report", report: {} })).catch(() => 0);
    assert.ok(await closedWithin(stranger, 5_000), "the stranger's connection is closed");
    const endless = await connect(port);
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    for (let sent = 0; sent <= MAX_LINE_CHARS + chunk.length; sent += chunk.length) {
      if ((await endless.write(chunk).catch(() => -1)) < 0) break;
    }
    assert.ok(await closedWithin(endless, 5_000), "the endless line's connection is closed");
    assert.equal(w.messages.length, before, "nothing from either reached the worker's messages");
    w.worker.send({ exit: 0 });
    await waitFor([0], () => w.exited(), "the exit");
  }],
  ["a worker started without the channel's variable has a closed channel", async () => {
    const { connectToPrimary } = await import("../../adapters/deno-workers.ts");
    const env = new Map<string, string>();
    const channel = connectToPrimary({ ...deno, env: { get: (name) => env.get(name), delete: (name) => void env.delete(name) } });
    assert.equal(channel.closed, true);
    await channel.send({ anything: true }); // resolves, sends nothing
  }],
];

deno.exit((await runChecks(checks)) === 0 ? 0 : 1);
