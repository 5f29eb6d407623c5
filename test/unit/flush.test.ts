/** The last lines reach the output before the exit: the logger is flushed, within a short bound. */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { FLUSH_MAX_MS, FLUSH_MIN_MS, loggerFlush } from "../../src/log/flush.ts";
import { fakeWorld, settle } from "./fakes.ts";

/** pino's shape: `(fields, msg)` methods, `flush(cb)` that calls back at once (sonic-boom with minLength 0), the destination under a symbol. */
function pinoLike() {
  const destination = Object.assign(new EventEmitter(), { _writing: false });
  const lines: string[] = [];
  const method = (_fields: unknown, msg: unknown) => {
    lines.push(String(msg));
    destination._writing = true; // each line starts a write that lasts until the test says it is done
  };
  const logger = {
    info: method,
    warn: method,
    error: method,
    flush(cb: () => void) {
      cb();
    },
    [Symbol("pino.stream")]: destination,
  };
  const drained = () => {
    destination._writing = false;
    destination.emit("drain");
  };
  return { logger, lines, drained, destination };
}

async function drainWith(logger: object, timeout = 10_000) {
  const world = fakeWorld();
  const server = world.serve({ fetch: () => new Response() }, { port: 1, logger: logger as never, timeout });
  await server.ready;
  await settle();
  world.runtime.signal("SIGTERM");
  await world.clock.advance(QUIET_MS);
  await world.lifecycle.finished;
  await settle();
  return world;
}

describe("flush before exit", () => {
  it("WaitsForAPinoDestinationThatIsStillWritingBeforeTheExit", async () => {
    const { logger, lines, drained } = pinoLike();
    const { runtime } = await drainWith(logger);
    assert.ok(lines.some((l) => l.startsWith("drain complete")), "drain.end was logged");
    assert.deepEqual(runtime.exitCodes, [], "no exit while the destination still writes (its flush callback came at once)");
    drained();
    await settle();
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("ExitsAfterAtMostTheFlushBoundWhenTheStreamIsStuck", async () => {
    const { logger } = pinoLike();
    const { runtime, clock } = await drainWith(logger);
    await clock.advance(FLUSH_MAX_MS - 1);
    assert.deepEqual(runtime.exitCodes, [], "still waiting within the bound");
    await clock.advance(1);
    assert.deepEqual(runtime.exitCodes, [0], "a stuck stream does not hold the exit past the bound");
  });

  it("GivesAForcedDrainThatUsedTheWholeDeadlineTheShortestBound", async () => {
    const { logger } = pinoLike();
    const world = fakeWorld();
    const server = world.serve({ fetch: () => new Promise<Response>(() => {}) }, { port: 1, logger: logger as never, timeout: 1_000 });
    await server.ready;
    void world.runtime.servers[0]!.fetch("/hang");
    await settle();
    world.runtime.signal("SIGTERM");
    await world.clock.advance(1_000);
    const report = await world.lifecycle.finished;
    assert.equal(report.forcedBy, "deadline");
    await world.clock.advance(FLUSH_MIN_MS - 1);
    assert.deepEqual(world.runtime.exitCodes, []);
    await world.clock.advance(1);
    assert.deepEqual(world.runtime.exitCodes, [1]);
  });

  it("GetsTheLineOutBeforeTheExitWhenTheDrainItselfCrashes", async () => {
    const { logger, lines, drained } = pinoLike();
    const world = fakeWorld();
    const server = world.serve({ fetch: () => new Response("ok") }, { port: 1, logger: logger as never });
    await server.ready;
    // A bug in the drain (here, a listener whose close throws) must still end the process, said.
    world.runtime.servers[0]!.close = () => {
      throw new Error("close exploded");
    };
    world.runtime.signal("SIGTERM");
    await world.clock.advance(2 * QUIET_MS); // past the hold, to the close
    assert.ok(lines.some((l) => l.includes("close exploded")), "drain.crashed was logged");
    assert.deepEqual(world.runtime.exitCodes, [], "no exit while the destination still writes");
    drained();
    await settle();
    assert.deepEqual(world.runtime.exitCodes, [1]);
  });

  it("ExitsAtOnceWithALoggerThatHasNothingToFlush", async () => {
    const quiet = { info() {}, warn() {}, error() {} };
    const { runtime, clock } = await drainWith(quiet);
    assert.deepEqual(runtime.exitCodes, [0]);
    assert.equal(clock.pendingTimers, 0, "no flush timer was set");
    assert.equal(loggerFlush(quiet), undefined);
    assert.equal(loggerFlush(() => {}), undefined);
    assert.equal(loggerFlush(undefined), undefined);
  });

  it("WaitsForAFlushThatReturnsAPromise", async () => {
    let done!: () => void;
    const logger = { info() {}, warn() {}, error() {}, flush: () => new Promise<void>((resolve) => (done = resolve)) };
    const { runtime } = await drainWith(logger);
    assert.deepEqual(runtime.exitCodes, []);
    done();
    await settle();
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("ExitsWhenTheFlushThrows", async () => {
    const logger = {
      info() {},
      warn() {},
      error() {},
      flush() {
        throw new Error("stream destroyed");
      },
    };
    const { runtime } = await drainWith(logger);
    assert.deepEqual(runtime.exitCodes, [0]);
  });
});
