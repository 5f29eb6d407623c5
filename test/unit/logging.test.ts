/** Log records: the same fields for every logger, pino's call for object loggers, bounded lines. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { fitRecord, MAX_LOG_LINE_BYTES, MAX_RECORD_BYTES } from "../../src/log/log-bounds.ts";
import { toLog } from "../../src/log/logger.ts";
import type { LogRecord } from "../../src/types.ts";
import { fakeWorld, settle } from "./fakes.ts";

const bytes = (text: string) => Buffer.byteLength(text, "utf8");

/** A logger with pino's call shape that records what it was given. */
function objectLogger() {
  const calls: { level: string; fields: Record<string, unknown>; msg: unknown; args: number }[] = [];
  const method = (level: string) => (...args: unknown[]) =>
    calls.push({ level, fields: args[0] as Record<string, unknown>, msg: args[1], args: args.length });
  return { calls, logger: { info: method("info"), warn: method("warn"), error: method("error") } };
}

describe("logging", () => {
  it("GivesFunctionLoggersTheSameFieldsAsTheJsonLineTimeIncluded", () => {
    const got: LogRecord[] = [];
    const before = Date.now();
    toLog((record) => got.push(record))({ level: "info", event: "x", msg: "hello", n: 1 });
    assert.equal(got.length, 1);
    assert.equal(typeof got[0]!.time, "number");
    assert.ok(got[0]!.time! >= before && got[0]!.time! <= Date.now() + 1);
    assert.deepEqual(Object.keys(got[0]!), ["time", "level", "event", "msg", "n"]);
  });

  it("CallsObjectLoggersLikePinoWithFieldsThenMessage", () => {
    const { calls, logger } = objectLogger();
    toLog(logger)({ level: "warn", event: "task.failed", msg: "a task rejected", error: "disk full" });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.level, "warn");
    assert.equal(calls[0]!.args, 2);
    assert.equal(calls[0]!.msg, "a task rejected");
    assert.deepEqual(calls[0]!.fields, { event: "task.failed", error: "disk full" }, "no level, time or msg in the fields");
  });

  it("NeverUsesAFieldNameThatPinoOrBunyanWrites", async () => {
    const { calls, logger } = objectLogger();
    const { runtime, clock, lifecycle, serve } = fakeWorld();
    lifecycle.add({ name: "db", start() {}, stop() {} });
    const server = serve({ fetch: () => new Response() }, { port: 0, hostname: "127.0.0.1", logger });
    await server.ready;
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await server.finished;
    const events = calls.map((c) => c.fields.event);
    for (const event of ["part.started", "listening", "drain.start", "part.stopped", "drain.end"]) assert.ok(events.includes(event), event);
    for (const call of calls) {
      for (const owned of ["level", "time", "msg", "hostname", "pid", "name", "v"]) {
        assert.ok(!(owned in call.fields), `${call.fields.event} has "${owned}"`);
      }
    }
    const listening = calls.find((c) => c.fields.event === "listening")!.fields;
    assert.equal(listening.address, "127.0.0.1");
    assert.equal(listening.port, 40_000);
    assert.equal(listening.part, "server:40000");
    assert.equal(calls.find((c) => c.fields.event === "part.started")!.fields.part, "db");
  });

  it("PutsTheStackInTaskFailedLines", async () => {
    const got: LogRecord[] = [];
    const { runtime, lifecycle, serve } = fakeWorld();
    const server = serve({ fetch: () => new Response() }, { logger: (r: LogRecord) => got.push(r), signals: false });
    await server.ready;
    lifecycle.waitUntil(Promise.reject(new Error("disk full")));
    await settle();
    const failed = got.find((r) => r.event === "task.failed")!;
    assert.equal(failed.error, "disk full");
    assert.match(String(failed.stack), /^Error: disk full\n\s+at /);
    assert.equal(runtime.exitCodes.length, 0);
  });

  it("PutsTheStackInHandlerErrorLines", async () => {
    const got: LogRecord[] = [];
    const { runtime, serve } = fakeWorld();
    const server = serve({
      fetch: () => {
        throw new Error("bad handler");
      },
    }, { logger: (r: LogRecord) => got.push(r), signals: false });
    await server.ready;
    assert.equal((await runtime.servers[0]!.fetch("/")).status, 500);
    const line = got.find((r) => r.event === "handler.error")!;
    assert.match(String(line.stack), /^Error: bad handler\n\s+at /);
  });

  it("AnUnprintableThrownValueIsAnsweredAndLoggedAndLeavesNoRequestInFlight", async () => {
    const got: LogRecord[] = [];
    const { clock, runtime, serve } = fakeWorld();
    const unprintable = [
      Object.create(null),
      {
        toString: () => {
          throw new Error("toString boom");
        },
      },
      Object.defineProperty(new Error("x"), "message", {
        get: () => {
          throw new Error("getter boom");
        },
      }),
    ];
    let next = 0;
    const server = serve({
      fetch: () => {
        throw unprintable[next++];
      },
    }, { logger: (r: LogRecord) => got.push(r), signals: false });
    await server.ready;
    for (let i = 0; i < unprintable.length; i++) assert.equal((await runtime.servers[0]!.fetch("/")).status, 500);
    const lines = got.filter((r) => r.event === "handler.error");
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => typeof l.error === "string" || typeof l.msg === "string"));
    // Nothing left in flight: the drain is clean and quick.
    const shutdown = server.shutdown();
    await clock.advance(QUIET_MS);
    const report = await shutdown;
    assert.deepEqual(report.requests, { inFlightAtStart: 0, served: 0, cut: 0 });
    assert.equal(report.exitCode, 0);
  });

  it("ALoggerThatThrowsBreaksNothingAndItsLineGoesOutAsJson", () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      toLog(() => {
        throw new Error("transport hiccup");
      })({ level: "info", event: "drain.start", msg: "m" });
      toLog({
        info: () => {
          throw new Error("pino down");
        },
        warn() {},
        error() {},
      })({ level: "info", event: "x", msg: "m" });
    } finally {
      console.log = original;
    }
    assert.deepEqual(lines.map((l) => [JSON.parse(l).event, JSON.parse(l).loggerError]), [["drain.start", "transport hiccup"], [
      "x",
      "pino down",
    ]]);
  });

  it("MapsToGoogleCloudLoggingWithTheReadmeFunction", () => {
    const lines: string[] = [];
    const print = (line: string) => lines.push(line);
    // The mapping docs/logging.md gives (Google Cloud Logging), with console.log swapped for `print`.
    const severity = { info: "INFO", warn: "WARNING", error: "ERROR" } as const;
    const logger = ({ level, msg, time, ...fields }: LogRecord & { time: number }) =>
      print(JSON.stringify({ severity: severity[level], message: msg, time: new Date(time).toISOString(), ...fields }));
    toLog(logger)({ level: "warn", event: "drain.forced", msg: "second signal SIGINT: stopping now", signal: "SIGINT" });
    const line = JSON.parse(lines[0]!);
    assert.equal(line.severity, "WARNING");
    assert.equal(line.message, "second signal SIGINT: stopping now");
    assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(line.event, "drain.forced");
    assert.equal(line.level, undefined);
  });

  it("CutsLongStringsSoARecordFitsItsBound", () => {
    const stack = `Error: boom\n${"    at frame (file.ts:1:1)\n".repeat(50_000)}`;
    const { record, json } = fitRecord({ level: "warn", event: "task.failed", msg: "boom", stack, error: "é".repeat(20_000) });
    assert.ok(bytes(json) <= MAX_RECORD_BYTES, `${bytes(json)} bytes`);
    assert.ok(bytes(json) > MAX_RECORD_BYTES - 2_000, "uses the room it has");
    assert.equal(record.event, "task.failed");
    assert.equal(record.msg, "boom", "short fields stay whole");
    assert.match(String(record.stack), /^Error: boom\n {4}at frame/);
    assert.match(String(record.stack), /\.\.\.\[\d+ more chars\]$/);
    assert.deepEqual(JSON.parse(json), record);
  });

  it("CountsBytesNotCharacters", () => {
    // 6,000 emoji: 12,000 UTF-16 units but 24,000 bytes, over the bound.
    const { json } = fitRecord({ level: "info", event: "x", msg: "😀".repeat(6_000) });
    assert.ok(bytes(json) <= MAX_RECORD_BYTES, `${bytes(json)} bytes`);
    assert.doesNotMatch(json, /\\ud/i, "no surrogate pair split");
  });

  it("LeavesARecordThatFitsAsItIs", () => {
    const record = { level: "info" as const, event: "x", msg: "short" };
    assert.equal(fitRecord(record).record, record);
  });

  it("DropsTheLargestNestedFieldWhenShortStringsAreNotEnough", () => {
    const parts = Array.from({ length: 5_000 }, (_, i) => ({ name: `part-${i}`, kind: "part", outcome: "stopped", durationMs: 0 }));
    const { record, json } = fitRecord({ level: "info", event: "drain.end", msg: "drain complete", parts, tasks: { failed: 0 } });
    assert.ok(bytes(json) <= MAX_RECORD_BYTES);
    assert.equal(record.parts, undefined);
    assert.equal(record.truncated, "parts");
    assert.deepEqual(record.tasks, { failed: 0 }, "small fields kept");
  });

  it("NeverSerializesAStringLongerThanTheLine", () => {
    // A 10 MB message made a 30 MB JSON text before it was cut: 300-400 ms of a blocked event loop.
    let longest = 0;
    const stringify = JSON.stringify;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      const text = stringify(...args);
      longest = Math.max(longest, text?.length ?? 0);
      return text;
    }) as typeof stringify;
    try {
      const { json } = fitRecord({ level: "error", event: "handler.error", msg: "boom", error: "x".repeat(10_000_000) });
      assert.ok(bytes(json) <= MAX_RECORD_BYTES);
    } finally {
      JSON.stringify = stringify;
    }
    assert.ok(longest <= 2 * MAX_RECORD_BYTES, `a ${longest}-character JSON text was made`);
  });

  it("WritesDefaultJsonLinesWithinOnePipeWrite", () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      toLog(undefined)({ level: "info", event: "x", msg: "m".repeat(100_000) });
    } finally {
      console.log = original;
    }
    assert.equal(lines.length, 1);
    assert.ok(bytes(lines[0]!) + 1 <= MAX_LOG_LINE_BYTES);
    assert.equal(JSON.parse(lines[0]!).event, "x");
  });
});
