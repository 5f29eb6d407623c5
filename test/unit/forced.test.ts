/** A forced drain names the budget that ran out and what it was still waiting for. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LogRecord } from "../../src/types.ts";
import { fakeWorld, settle } from "./fakes.ts";

const never = () => new Promise<Response>(() => {});

function world() {
  const w = fakeWorld();
  const logs: LogRecord[] = [];
  const logger = (record: LogRecord) => logs.push(record);
  const forcedLine = () => logs.find((l) => l.event === "drain.forced");
  return { ...w, logs, logger, forcedLine };
}

describe("a forced drain", () => {
  it("NamesTheStopReserveWhenTheServersShareRanOutBeforeTheTimeout", async () => {
    // The case: timeout 1500 ms and a part to stop (5 s timeout): the servers get 750 ms.
    const w = world();
    w.lifecycle.add({ name: "db", stop() {} });
    const server = w.serve({ fetch: never }, { port: 1, timeout: 1_500, logger: w.logger });
    await server.ready;
    void w.runtime.servers[0]!.fetch("/slow");
    await settle();
    w.runtime.signal("SIGTERM");
    await w.clock.advance(749);
    assert.equal(w.forcedLine(), undefined);
    await w.clock.advance(1);
    const line = w.forcedLine()!;
    assert.equal(line.forcedBy, "deadline", "the field keeps its value");
    assert.equal(line.budget, "stop-reserve");
    assert.equal(line.budgetMs, 750);
    assert.equal(line.stopReserveMs, 750);
    assert.equal(line.timeoutMs, 1_500);
    assert.match(
      line.msg,
      /^stop reserve reached: the servers' 750 ms ran out \(750 ms of the 1500 ms timeout are kept for the parts' stops\)/,
    );
    assert.doesNotMatch(line.msg, /deadline reached/);
    const report = await server.finished;
    assert.equal(report.forcedBy, "deadline");
    assert.equal(report.budget, "stop-reserve");
  });

  it("NamesTheDeadlineWhenNothingIsKeptForStops", async () => {
    const w = world();
    const server = w.serve({ fetch: never }, { port: 1, timeout: 1_000, logger: w.logger });
    await server.ready;
    void w.runtime.servers[0]!.fetch("/slow");
    await settle();
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    const line = w.forcedLine()!;
    assert.equal(line.budget, "deadline");
    assert.equal(line.budgetMs, 1_000);
    assert.equal(line.stopReserveMs, 0);
    assert.match(line.msg, /^deadline reached \(timeout 1000 ms\): cutting what is still open; it was waiting for 1 request in flight$/);
    assert.equal((await server.finished).budget, "deadline");
  });

  it("NamesRequestsTasksAndOpenConnections", async () => {
    const w = world();
    const server = w.serve({
      fetch: (_request: Request, _env: unknown, ctx: { waitUntil(p: Promise<unknown>): void }) => {
        ctx.waitUntil(new Promise(() => {}));
        return never();
      },
    }, { port: 1, timeout: 1_000, logger: w.logger });
    await server.ready;
    const fake = w.runtime.servers[0]!;
    void fake.fetch("/a");
    void fake.fetch("/b");
    fake.open = 3;
    await settle();
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    const line = w.forcedLine()!;
    assert.deepEqual(line.waitingFor, { requests: 2, responses: 0, tasks: 2, serversClosing: ["server:1"], connections: 3 });
    assert.match(line.msg, /it was waiting for 2 requests in flight, 2 waitUntil tasks, 3 open connections or streams$/);
    assert.deepEqual((await server.finished).waitingFor, line.waitingFor);
  });

  it("NamesAServerCloseThatNeverResolvedWhenNothingElseIsPending", async () => {
    // Bun's stop() with a connection that never sent a request: nothing counted, the close pending.
    const w = world();
    const server = w.serve({ fetch: () => new Response("ok") }, { port: 1, timeout: 1_000, logger: w.logger });
    await server.ready;
    w.runtime.servers[0]!.open = 1;
    w.runtime.servers[0]!.openConnections = () => 0;
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    const line = w.forcedLine()!;
    assert.deepEqual(line.waitingFor, { requests: 0, responses: 0, tasks: 0, serversClosing: ["server:1"], connections: 0 });
    assert.match(line.msg, /it was waiting for server:1 to close$/);
  });

  it("NamesAPartsStopThatASecondSignalInterrupted", async () => {
    const w = world();
    w.lifecycle.add({ name: "db", stop: () => new Promise(() => {}) });
    const server = w.serve({ fetch: () => new Response("ok") }, { port: 1, timeout: 10_000, logger: w.logger });
    await server.ready;
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    assert.equal(w.forcedLine(), undefined, "the stop is running");
    w.runtime.signal("SIGINT");
    await settle();
    const line = w.forcedLine()!;
    assert.equal(line.forcedBy, "second-signal");
    assert.equal((line.waitingFor as { step?: string }).step, 'stop of "db"');
    assert.match(line.msg, /it was waiting for the stop of "db"$/);
  });

  it("NamesTheDrainDelayWhenASecondSignalCameDuringIt", async () => {
    const w = world();
    const server = w.serve({ fetch: () => new Response("ok") }, { port: 1, timeout: 10_000, drainDelay: 5_000, logger: w.logger });
    await server.ready;
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    w.runtime.signal("SIGINT");
    await settle();
    assert.match(w.forcedLine()!.msg, /it was waiting for the drain delay$/);
  });

  it("NamesAPartsStartInProgress", async () => {
    const w = world();
    w.lifecycle.add({ name: "warmup", start: () => new Promise(() => {}), timeout: 60_000 });
    const server = w.serve({ fetch: () => new Response("ok") }, { port: 1, timeout: 1_000, logger: w.logger });
    await settle();
    void server.ready.catch(() => {});
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    const line = w.forcedLine()!;
    assert.equal((line.waitingFor as { step?: string }).step, 'start of "warmup"');
    assert.match(line.msg, /it was waiting for the start of "warmup"$/);
  });
});
