/**
 * The report is the last line an operator reads: with pino's default (asynchronous) destination
 * and with a plain console-style logger, and a part registered, `drain.end` is the last line of
 * the output on every runtime, also when the drain is forced. Before: on Deno the line was lost in
 * every run (Deno.exit emits no exit event, so pino never flushed), on Node it could come out
 * ahead of `part.stopped`. stdout and stderr share one pipe here (console writes errors to
 * stderr), so the order between them is the order of the writes.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { request } from "../support/client.ts";
import { assertOutputWritesHarmless } from "../support/closed-output.ts";
import { Fixture, ROOT, type Runtime, selectedRuntimes } from "../support/harness.ts";
import { onFreePort } from "../support/ports.ts";
import { WATCHDOG_GRACE_MS } from "../../src/drain/lifecycle.ts";

const FIXTURE = "test/fixtures/last-line.ts";
/** Runs per case; SG_LAST_LINE_RUNS=10 repeats the check (10 runs each). */
const RUNS = Number(process.env.SG_LAST_LINE_RUNS ?? 0) || 0;
const PINO_RUNS = RUNS || 3;
const FORCED_RUNS = RUNS || 1;
const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

/** The runtime, with its stderr sent into its stdout (exec: the signal goes to the runtime itself). */
const merged = (runtime: Runtime): Runtime => ({
  name: runtime.name,
  command: "/bin/sh",
  args: (file) => ["-c", 'exec "$@" 2>&1', "sh", runtime.command, ...runtime.args(file)],
});

/** One SIGTERM run; returns every line written, in order, and the exit code. */
async function run(runtime: Runtime, logger: "pino" | "console", force: boolean): Promise<{ texts: string[]; code: number | null }> {
  const env = { SG_LOGGER: logger, SG_FORCE: force ? "1" : "0" };
  const f = await Fixture.start(merged(runtime), FIXTURE, {}, env);
  started.push(f);
  if (force) {
    void request(f.port, "GET", "/hang", 20_000).catch(() => {});
    await f.waitFor((l) => l.fixture === "hang.start", 10_000, "the request that never ends");
  }
  f.signal("SIGTERM");
  const exit = await f.exit(15_000);
  return { texts: f.texts.filter((t) => t.trim() !== ""), code: exit.code };
}

for (const runtime of selectedRuntimes()) {
  describe(`the report is the last line on ${runtime.name}`, { concurrency: false }, () => {
    const pinoEvents = (texts: string[]) => texts.filter((t) => t.startsWith('{"level":')).map((t) => JSON.parse(t).event as string);

    it(`with pino's default destination and a part, in each of ${PINO_RUNS} runs`, async () => {
      for (let i = 0; i < PINO_RUNS; i++) {
        const { texts, code } = await run(runtime, "pino", false);
        assert.equal(code, 0);
        const last = JSON.parse(texts.at(-1)!);
        assert.equal(last.event, "drain.end", `run ${i + 1}: the last line is ${texts.at(-1)}`);
        const events = pinoEvents(texts);
        assert.ok(events.indexOf("part.stopped") >= 0 && events.indexOf("part.stopped") < events.indexOf("drain.end"), `${events}`);
      }
    });

    it(`with pino's default destination when the drain is forced, in each of ${FORCED_RUNS} runs`, async () => {
      for (let i = 0; i < FORCED_RUNS; i++) {
        const { texts, code } = await run(runtime, "pino", true);
        assert.equal(code, 1);
        const last = JSON.parse(texts.at(-1)!);
        assert.equal(last.event, "drain.end", `run ${i + 1}: the last line is ${texts.at(-1)}`);
        assert.equal(last.forced, true);
        // The part keeps 500 ms of the 1000 ms timeout for its stop: that budget ran out, not the timeout.
        const forced = texts.map((t) => (t.startsWith("{") ? JSON.parse(t) : {})).find((l) => l.event === "drain.forced");
        assert.equal(forced.forcedBy, "deadline");
        assert.equal(forced.budget, "stop-reserve");
        assert.equal(forced.budgetMs, 500);
        assert.equal(forced.waitingFor.requests, 1, "it names the request it was waiting for");
        assert.match(forced.msg, /^stop reserve reached: .* it was waiting for 1 request in flight/);
        assert.equal(last.budget, "stop-reserve");
        const events = pinoEvents(texts);
        for (const event of ["drain.start", "drain.forced", "part.stopped"]) {
          assert.ok(events.includes(event) && events.indexOf(event) < events.indexOf("drain.end"), `${event} before drain.end: ${events}`);
        }
      }
    });

    for (const force of [false, true]) {
      it(`with a console-style logger${force ? " when the drain is forced" : ""}, in each of ${RUNS || 1} runs`, async () => {
        for (let i = 0; i < (RUNS || 1); i++) {
          const { texts, code } = await run(runtime, "console", force);
          assert.equal(code, force ? 1 : 0);
          // console.info(fields, msg): the fields object over several lines, then the message.
          const outcome = force ? "forced \\(deadline\\)" : "complete";
          assert.match(texts.at(-1)!, new RegExp(`drain ${outcome} in \\d+ ms, exit ${force ? 1 : 0}$`), texts.slice(-5).join("\n"));
          const stopped = texts.findIndex((t) => /db stopped$/.test(t));
          assert.ok(stopped >= 0 && stopped < texts.length - 1, "part.stopped came before");
        }
      });
    }
  });
}

// A log reader that went away (a shipper that died, `| head`): the process's writes fail with EPIPE.
// Before: on Node the failed write was an uncaught exception whose log line failed the same way, a
// loop that kept the process spinning after SIGTERM, never exiting.
for (const runtime of selectedRuntimes()) {
  describe(`output closed under the process on ${runtime.name}`, () => {
    it("a SIGTERM still drains and exits", async () => {
      const f = await Fixture.start(runtime, "test/fixtures/server.ts");
      started.push(f);
      f.child.stdout!.destroy();
      f.child.stderr!.destroy();
      f.signal("SIGTERM");
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 0);
    });

    // Bun builds process.stdout and process.stderr only when something uses them: its failed write
    // is recognised as the stream's own when it arrives, on Node a listener takes it.
    if (runtime.name !== "deno") {
      it("the app's own writes to it fail without harm, from the start", async () => {
        const f = await Fixture.start(runtime, "test/fixtures/server.ts");
        started.push(f);
        await assertOutputWritesHarmless(f, 5);
        f.signal("SIGTERM");
        const exit = await f.exit(10_000);
        assert.equal(exit.code, 0);
      });
    }
  });
}

// Output that fails every write (a full disk, /dev/full: ENOSPC). Before: Deno's console threw, and
// the `listening` line's failed write failed the start (exit 1 at once); a failed handler.error
// line left its request in flight, and the drain waited for the deadline (exit 1).
for (const runtime of selectedRuntimes()) {
  describe(`output that fails every write on ${runtime.name}`, () => {
    it("serves, answers a handler's throw with 500, and drains clean", { timeout: 60_000 }, async () => {
      const full = openSync("/dev/full", "w");
      const { port, result: child } = await onFreePort(async (port) => {
        const child = spawn(runtime.command, runtime.args(path.join(ROOT, "test/fixtures/quiet.ts")), {
          cwd: ROOT,
          env: { ...process.env, SG_OPTIONS: JSON.stringify({ port, timeout: 8_000 }), NO_COLOR: "1" },
          stdio: ["ignore", full, full],
        });
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        // Up when it answers; a start that failed has exited by then (a port in use is tried again).
        for (let i = 0; i < 300; i++) {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before answering`);
          try {
            if ((await request(port, "GET", "/", 1_000)).status === 200) return { child, exited };
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        throw new Error("never answered");
      }, () => false);
      closeSync(full);
      try {
        assert.equal((await request(port, "GET", "/throw")).status, 500);
        child.child.kill("SIGTERM");
        const code = await Promise.race([child.exited, new Promise((resolve) => setTimeout(() => resolve("hung"), 15_000))]);
        assert.equal(code, 0);
      } finally {
        if (child.child.exitCode === null) child.child.kill("SIGKILL");
      }
    });
  });
}

// A log pipe whose reader stopped reading (a stalled shipper): full, and never read again. Before:
// Bun's and Deno's console blocked on the drain's first line, and nothing ran after it, the
// deadline included: still running 40 s after SIGTERM with a 5 s timeout. (Node writes pipes
// asynchronously: its drain ends as usual, the lines lost.)
for (const runtime of selectedRuntimes()) {
  describe(`a log pipe that stays full on ${runtime.name}`, () => {
    for (const logger of ["default", "pino"] as const) {
      it(`still ends the process soon after the deadline (${logger} logger)`, { timeout: 60_000 }, async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "sg-full-pipe-"));
        const fifo = path.join(dir, "out");
        execFileSync("mkfifo", [fifo]);
        const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        const writer = openSync(fifo, constants.O_WRONLY);
        const timeout = 2_000;
        const child = spawn(runtime.command, runtime.args(path.join(ROOT, "test/fixtures/quiet.ts")), {
          cwd: ROOT,
          env: { ...process.env, SG_OPTIONS: JSON.stringify({ port: 0, timeout }), NO_COLOR: "1", SG_LOGGER: logger },
          stdio: ["ignore", writer, "ignore"],
        });
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
          child.once("exit", (code, signal) => resolve({ code, signal }))
        );
        try {
          // Read until the listening line, then never again, and fill what is left of the pipe.
          let out = "";
          const chunk = Buffer.alloc(65_536);
          for (let i = 0; i < 300 && !/"event":"listening"|"msg":"server:\d+ listening/.test(out); i++) {
            try {
              out += chunk.toString("utf8", 0, readSync(reader, chunk));
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
          assert.match(out, /"event":"listening"|"msg":"server:\d+ listening/);
          const filler = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
          try {
            for (let i = 0; i < 64; i++) writeSync(filler, chunk);
          } catch {
            // EAGAIN: full.
          } finally {
            closeSync(filler);
          }
          const signalledAt = performance.now();
          child.kill("SIGTERM");
          const end = await Promise.race([exited, new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 30_000))]);
          assert.notEqual(end, "hung", "still running 30 s after SIGTERM");
          const ms = performance.now() - signalledAt;
          // The drain's own exit when it can write (Node), else the backstop at timeout + 2 s (SIGKILL).
          assert.ok(ms < timeout + WATCHDOG_GRACE_MS + 5_000, `ended ${Math.round(ms)} ms after SIGTERM`);
        } finally {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          closeSync(reader);
          closeSync(writer);
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
