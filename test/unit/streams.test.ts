/** endOnDrain: streams end cleanly at the drain, and a stream that ends first leaves nothing behind. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type DrainableStream, endStreamOnAbort } from "../../src/drain/streams.ts";
import { fakeWorld } from "./fakes.ts";

function fakeStream(): DrainableStream & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    closed: false,
    aborted: false,
    writeSSE(message) {
      sent.push(message.data);
      return Promise.resolve();
    },
    close() {
      (this as { closed: boolean }).closed = true;
      return Promise.resolve();
    },
  };
}

/** An AbortController whose signal counts the abort listeners it holds. */
function countingDrain() {
  const controller = new AbortController();
  const signal = controller.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, fn: EventListener, options?: AddEventListenerOptions) => {
    listeners++;
    add(type, fn, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    listeners--;
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  return { controller, signal, listeners: () => listeners };
}

describe("endOnDrain", { timeout: 10_000 }, () => {
  it("SendsTheLastEventAndClosesWhenTheDrainStarts", async () => {
    const drain = countingDrain();
    const stream = fakeStream();
    endStreamOnAbort(drain.signal, stream, { event: "bye", data: "restarting" });
    drain.controller.abort();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(stream.sent, ["restarting"]);
    assert.equal(stream.closed, true);
  });

  it("TheLastEventIsLastWhileTheHandlerKeepsWriting", async () => {
    const drain = countingDrain();
    const stream = fakeStream();
    // Each event takes a turn to be written, as a real stream's do.
    const write = stream.writeSSE.bind(stream);
    stream.writeSSE = (message) => new Promise((resolve) => setImmediate(() => resolve(write(message))));
    endStreamOnAbort(drain.signal, stream, { event: "bye", data: "bye" });
    const handler = (async () => {
      for (let i = 0; i < 100 && !stream.closed; i++) await stream.writeSSE({ data: `tick ${i}` });
    })();
    await new Promise((resolve) => setImmediate(resolve));
    drain.controller.abort();
    await handler;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stream.sent.at(-1), "bye", stream.sent.join(", "));
    assert.equal(stream.closed, true);
  });

  it("ManyStreamsAtOnceHoldOneListenerOnTheSignalAndAllEndAtTheDrain", async () => {
    // Node warned "MaxListenersExceededWarning: Possible EventTarget memory leak detected" at the
    // 11th SSE client, one abort listener each (an outside probe).
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const drain = countingDrain();
      const plain = new AbortController(); // without the counting wrapper, as the lifecycle's is
      const streams = Array.from({ length: 50 }, () => fakeStream());
      for (const stream of streams) {
        endStreamOnAbort(drain.signal, stream, { data: "bye" });
        endStreamOnAbort(plain.signal, fakeStream());
      }
      assert.equal(drain.listeners(), 1);
      await streams[7]!.close(); // one the handler ended first: not written to again
      drain.controller.abort();
      plain.abort();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(streams.map((s) => s.closed), streams.map(() => true));
      assert.deepEqual(streams.map((s) => s.sent.length), streams.map((_, i) => (i === 7 ? 0 : 1)));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("LetsGoOfAStreamTheHandlerClosedFirst", async () => {
    const drain = countingDrain();
    for (let i = 0; i < 1_000; i++) {
      const stream = fakeStream();
      endStreamOnAbort(drain.signal, stream);
      await stream.close();
    }
    assert.equal(drain.listeners(), 0, "no listener left on the lifecycle's signal");
  });
});

describe("endOnDrain's input", () => {
  it("RefusesWhatItCannotCloseOrSendAtTheCall", () => {
    const { lifecycle } = fakeWorld();
    for (const bad of [null, 42, "str", {}]) {
      assert.throws(() => lifecycle.endOnDrain(bad as never), /^TypeError: endOnDrain: expected a stream with close\(\)/);
    }
    assert.throws(() => lifecycle.endOnDrain(fakeStream(), "bye" as never), /"last" must be an object/);
    assert.throws(() => lifecycle.endOnDrain(fakeStream(), { data: 5 } as never), /"last.data" must be a string, got 5/);
    assert.throws(() => lifecycle.endOnDrain(fakeStream(), { data: "x", junk: 1 } as never), /unknown option "last.junk"/);
    assert.throws(() => lifecycle.endOnDrain(fakeStream(), { data: "x", retry: -1 }), /"last.retry"/);
    const { writeSSE: _, ...plain } = fakeStream();
    assert.throws(() => lifecycle.endOnDrain(plain as never, { data: "bye" }), /"last" must be given only with a stream that has writeSSE/);
    // What is right passes: a stream alone, or with a message.
    lifecycle.endOnDrain(plain as never);
    lifecycle.endOnDrain(fakeStream(), { event: "bye", data: "", id: "7", retry: 1_000 });
  });
});
