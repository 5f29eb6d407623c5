/**
 * A port in use, with the README's start (`await server.ready` at the top level of the module):
 * one line, exit 1, on every runtime. Before: the rejection that `ready` carries came back to the
 * process as an uncaught exception (Node: a second error line with a stack, an alert for a port
 * conflict), and a rollback ended with a `drain.end ... rolled back` line besides.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { Fixture, selectedRuntimes } from "../support/harness.ts";

const FIXTURE = "test/fixtures/port-in-use.ts";
const started: Fixture[] = [];
let holder: net.Server;
let port = 0;

before(async () => {
  holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  port = (holder.address() as net.AddressInfo).port;
});
after(() => {
  started.forEach((f) => f.kill());
  holder.close();
});

/** Every non-empty line the process wrote, stdout and stderr. */
const everyLine = (f: Fixture) => f.texts.filter((t) => t.trim() !== "");

for (const runtime of selectedRuntimes()) {
  describe(`a port in use with await server.ready on ${runtime.name}`, { concurrency: false }, () => {
    it("prints exactly one line, start.failed naming the port, and exits 1", async () => {
      const f = new Fixture(runtime, FIXTURE, {}, { PORT: String(port) });
      started.push(f);
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 1);
      const lines = everyLine(f);
      assert.equal(lines.length, 1, `one line, got:\n${lines.join("\n")}`);
      const line = JSON.parse(lines[0]!);
      assert.equal(line.event, "start.failed");
      assert.match(line.msg, new RegExp(`port ${port} is already in use`));
    });

    it("with a part started before it: the rollback stops the part, no fatal error and no drain.end line", async () => {
      const f = new Fixture(runtime, FIXTURE, {}, { PORT: String(port), SG_PART: "1" });
      started.push(f);
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 1);
      const lines = everyLine(f);
      // stdout and stderr are two pipes: the records' own times give their order.
      const records = lines.map((t) => JSON.parse(t) as { event?: string; time: number }).sort((a, b) => a.time - b.time);
      const events = records.map((r) => r.event);
      assert.deepEqual(events, ["part.started", "start.failed", "part.stopped"], lines.join("\n"));
    });
  });
}
