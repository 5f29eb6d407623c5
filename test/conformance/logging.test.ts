/**
 * What the logs and the report look like from outside, on Node, Bun and Deno: bounded lines after
 * many failures, real pino lines with no key written twice, a duration the timers cannot hold
 * refused before anything listens.
 */
import assert from "node:assert/strict";
import os from "node:os";
import { after, describe, it } from "node:test";
import { request } from "../support/client.ts";
import { Fixture, selectedRuntimes } from "../support/harness.ts";
import { MAX_LOG_LINE_BYTES } from "../../src/log/log-bounds.ts";

const SERVER = "test/fixtures/server.ts";
const MAX_LINE_BYTES = MAX_LOG_LINE_BYTES; // one pipe write (PIPE_BUF)
const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));
const track = (f: Fixture) => (started.push(f), f);

/** The keys of a JSON object's top level, in order, duplicates kept (JSON.parse keeps only the last). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, end + 1)));
      i = end;
      expectKey = false;
    } else if (char === "{" || char === "[") {
      depth++;
      expectKey = char === "{" && depth === 1;
    } else if (char === "}" || char === "]") depth--;
    else if (char === "," && depth === 1) expectKey = true;
  }
  return keys;
}

for (const runtime of selectedRuntimes()) {
  describe(`logging on ${runtime.name}`, { concurrency: false }, () => {
    it("keeps every line within one pipe write (4 KiB) and the report's errors bounded after 20,000 failed tasks", async () => {
      const f = track(await Fixture.start(runtime, SERVER));
      assert.equal((await request(f.port, "POST", "/reject-many?n=20000")).status, 202);
      await f.waitFor((l) => l.fixture === "reject-many.settled", 30_000, "20,000 tasks to reject");
      // 50 more that fail during the drain: the report keeps 10 and counts the rest.
      assert.equal((await request(f.port, "POST", "/reject-many?n=50&ms=300")).status, 202);
      f.signal("SIGTERM");
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 0, "failed tasks do not change the exit code");
      const lineBytes = f.texts.map((t) => Buffer.byteLength(t, "utf8") + 1);
      const end = f.texts.find((t) => t.includes('"event":"drain.end"'))!;
      assert.ok(end, "a drain.end line");
      const report = JSON.parse(end) as { errors: string[]; errorsOmitted: number; tasks: { failed: number } };
      assert.equal(report.tasks.failed, 50, "counted from the drain's start");
      assert.equal(report.errors.length, 10);
      assert.equal(report.errorsOmitted, 40);
      assert.ok(Buffer.byteLength(end) + 1 < MAX_LINE_BYTES, `drain.end is ${Buffer.byteLength(end)} bytes`);
      const libraryLines = f.texts.filter((t) => t.includes('"event":'));
      assert.ok(libraryLines.filter((t) => t.includes('"event":"task.failed"')).length >= 20_050, "each failure logged");
      assert.ok(Math.max(...lineBytes) < MAX_LINE_BYTES, `longest line ${Math.max(...lineBytes)} bytes`);
      const finished = f.report()!;
      // Printed for docs/logging.md's numbers (node --test shows it with --test-reporter=spec).
      console.log(
        `${runtime.name}: longest line ${Math.max(...lineBytes)} B, drain.end ${Buffer.byteLength(end) + 1} B, report ${
          JSON.stringify(finished).length
        } B`,
      );
    });

    it("works with pino: one level, one hostname, our event, in every line", async () => {
      const f = track(await Fixture.start(runtime, SERVER, { pino: true }));
      assert.equal((await request(f.port, "POST", "/reject")).status, 202);
      await f.waitFor((l) => l.event === "task.failed", 5_000, "the task to fail");
      f.signal("SIGTERM");
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 0);
      const pinoLines = f.texts.filter((t) => t.startsWith('{"level":'));
      const events = pinoLines.map((t) => JSON.parse(t).event);
      for (const event of ["listening", "task.failed", "drain.start", "drain.end"]) {
        assert.ok(events.includes(event), `${event} in ${events}`);
      }
      for (const text of pinoLines) {
        const keys = topLevelKeys(text);
        assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), [], `a key written twice: ${text}`);
        const line = JSON.parse(text);
        assert.equal(typeof line.level, "number", "pino's numeric level");
        assert.equal(line.hostname, os.hostname(), "the machine's hostname, not the listen address");
        assert.equal(typeof line.event, "string");
        assert.equal(typeof line.msg, "string");
      }
      const listening = pinoLines.map((t) => JSON.parse(t)).find((l) => l.event === "listening");
      assert.equal(listening.address, "127.0.0.1");
      assert.equal(listening.port, f.port);
      const failed = pinoLines.map((t) => JSON.parse(t)).find((l) => l.event === "task.failed");
      assert.equal(failed.level, 40, "warn");
      assert.match(failed.stack, /background write failed/);
      console.log(`${runtime.name} pino drain.end: ${pinoLines.find((t) => t.includes('"event":"drain.end"'))}`);
    });

    it("refuses a timeout the timers cannot hold before anything listens", async () => {
      const f = track(new Fixture(runtime, SERVER, { timeout: 2_147_483_648 }));
      const exit = await f.exit(10_000);
      assert.notEqual(exit.code, 0);
      assert.match(f.stderr.join(""), /TypeError: serveGracefully: "timeout" must be at most 2147483647 ms/);
      assert.ok(!f.lines.some((l) => l.fixture === "listening" || l.event === "listening"), "nothing listened");
    });
  });
}
