/**
 * A reload runs the entry as it is on disk now, but some of its settings only the primary applies:
 * the port, the workers count, the deadline past which it kills a worker (timeout), the drain and
 * reload signals. On Node, Bun and Deno: the new code asks for others, the reload replaces the
 * workers anyway, the service keeps the primary's (same port, same count), and one warning per
 * reload names each setting with its old and new value. The worker's own settings (drainDelay)
 * apply. A drain on the primary's signal reaches new workers that listen for other signals.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Fixture, ROOT, selectedRuntimes } from "../support/harness.ts";
import { freePort, onFreePort } from "../support/ports.ts";
import { alive } from "../support/processes.ts";

const cleanup: (() => void)[] = [];
after(() => cleanup.forEach((fn) => fn()));

const TIMEOUT_MS = 8_000;

for (const runtime of selectedRuntimes()) {
  describe(`workers reload with other settings on ${runtime.name}`, () => {
    it("NewCodeAskingForAnotherPortCountDeadlineOrSignalsIsOneWarningPerReloadAndTheServiceKeepsThePrimarys", async () => {
      const entry = `test/fixtures/.reload-settings-${runtime.name}-${process.pid}.ts`;
      const file = path.join(ROOT, entry);
      copyFileSync(path.join(ROOT, "test/fixtures/workers.ts"), file);
      cleanup.push(() => rmSync(file, { force: true }));
      // A fixed port (port 0 lets Node's new workers ask for one of their own: workers.md).
      const start = async (port: number) => {
        const fixture = new Fixture(runtime, entry, { workers: 2, port, timeout: TIMEOUT_MS });
        cleanup.push(() => fixture.kill());
        const line = await fixture.waitFor((l) => l.event === "listening" || l.event === "start.failed", 30_000, "the listening line");
        if (line.event === "start.failed") {
          await fixture.exit(15_000).catch(() => {});
          throw new Error(String(line.error));
        }
        return { fixture, listening: line };
      };
      const { port, result: { fixture, listening } } = await onFreePort(start, (error) => /EADDRINUSE|in use/i.test(String(error)));
      const oldPids = listening.pids as number[];
      cleanup.push(() => oldPids.forEach((pid) => alive(pid) && process.kill(pid, "SIGKILL")));
      const otherPort = await freePort();
      const asked = {
        port: otherPort,
        workers: 3,
        timeout: TIMEOUT_MS + 1_000,
        signals: ["SIGINT"],
        reloadSignal: "SIGUSR2",
        drainDelay: 300,
      };
      const source = readFileSync(file, "utf8");
      const changed = source.replace('const VERSION = "v1";', 'const VERSION = "v2";').replace(
        "  ...options,\n});",
        `  ...options,\n  ...${JSON.stringify(asked)},\n});`,
      );
      assert.notEqual(changed, source);
      writeFileSync(file, changed);

      const reloads: Record<string, unknown>[] = [];
      for (let n = 1; n <= 2; n++) {
        fixture.signal("SIGHUP");
        const reload = await fixture.waitFor(
          (l) => (l.event === "reload" || l.event === "reload.failed") && !reloads.includes(l),
          60_000,
          `reload ${n}`,
        );
        reloads.push(reload);
        assert.equal(reload.event, "reload", JSON.stringify(reload));
        const replaced = reload.replaced as { from: number; to: number }[];
        assert.equal(replaced.length, 2, "the primary's count of workers");
        for (const { to } of replaced) cleanup.push(() => alive(to) && process.kill(to, "SIGKILL"));
      }
      const warnings = fixture.lines.filter((l) => l.event === "reload.settings-ignored");
      assert.equal(warnings.length, 2, `one warning per reload\n${fixture.texts.join("\n")}`);
      for (const warning of warnings) {
        assert.equal(warning.level, "warn");
        assert.deepEqual(warning.ignored, [
          { setting: "port", from: port, to: otherPort },
          { setting: "workers", from: 2, to: 3 },
          { setting: "timeout", from: TIMEOUT_MS, to: TIMEOUT_MS + 1_000 },
          { setting: "signals", from: ["SIGTERM", "SIGINT"], to: ["SIGINT"] },
          { setting: "reloadSignal", from: "SIGHUP", to: "SIGUSR2" },
        ]);
        assert.match(String(warning.msg), new RegExp(`port ${port} -> ${otherPort}, workers 2 -> 3, `));
      }
      // The new code answers, on the primary's port.
      assert.match(await get(port), /^200 v2 /);
      const drained = fixture.lines.length;
      fixture.signal("SIGTERM");
      const exit = await fixture.exit(TIMEOUT_MS + 5_000);
      const story = fixture.texts.join("\n");
      // New workers listening for SIGINT only took the primary's SIGTERM order (they were killed at the deadline: exit 1).
      assert.equal(exit.code, 0, story);
      const starts = fixture.lines.slice(drained).filter((l) => l.event === "drain.start" && l.drainDelayMs !== undefined);
      assert.equal(starts.length, 2, story);
      for (const line of starts) assert.equal(line.drainDelayMs, 300, "the worker's own drain delay applies");
    });

    it("NewCodeWithoutSignalsFailsTheReloadAndTheOldWorkersDrainOnTheSignal", async () => {
      // `signals: false` in a new worker left nothing to take the primary's drain order: the reload
      // went through, and the next SIGTERM killed every worker at the deadline (exit 1).
      const entry = `test/fixtures/.reload-no-signals-${runtime.name}-${process.pid}.ts`;
      const file = path.join(ROOT, entry);
      copyFileSync(path.join(ROOT, "test/fixtures/workers.ts"), file);
      cleanup.push(() => rmSync(file, { force: true }));
      const fixture = new Fixture(runtime, entry, { workers: 2, port: 0, timeout: TIMEOUT_MS });
      cleanup.push(() => fixture.kill());
      const listening = await fixture.waitFor((l) => l.event === "listening", 30_000, "the listening line");
      const oldPids = listening.pids as number[];
      cleanup.push(() => oldPids.forEach((pid) => alive(pid) && process.kill(pid, "SIGKILL")));
      const source = readFileSync(file, "utf8");
      const changed = source.replace("  ...options,\n});", "  ...options,\n  signals: false,\n});");
      assert.notEqual(changed, source);
      writeFileSync(file, changed);
      fixture.signal("SIGHUP");
      const reload = await fixture.waitFor((l) => l.event === "reload" || l.event === "reload.failed", 60_000, "the reload's line");
      assert.equal(reload.event, "reload.failed", JSON.stringify(reload));
      assert.match(await get(listening.port as number), /^200 v1 /, "an old worker answers");
      const startedAt = performance.now();
      fixture.signal("SIGTERM");
      const exit = await fixture.exit(TIMEOUT_MS + 5_000);
      assert.equal(exit.code, 0, fixture.texts.join("\n"));
      assert.ok(performance.now() - startedAt < TIMEOUT_MS, "drained, not killed at the deadline");
    });
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const request = http.get({ host: "127.0.0.1", port, path: "/", agent: false, timeout: 5_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on(
        "end",
        () => resolve(`${response.statusCode} ${body}`),
      );
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
