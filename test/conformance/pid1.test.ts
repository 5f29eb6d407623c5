/**
 * The PID 1 warning, in a real PID namespace (`unshare --pid --fork --mount-proc`, as in a
 * container): `npm start` and `sh -c CMD` put a shell between PID 1 and the runtime, and a SIGTERM
 * sent to PID 1 never starts the drain, so the runtime warns at start; run directly, the runtime is
 * PID 1, gets the signal, drains, and does not warn.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Fixture, ROOT, type Runtime, selectedRuntimes } from "../support/harness.ts";

const SERVER = path.join(ROOT, "test/fixtures/server.ts");
const UNSHARE = ["--pid", "--fork", "--mount-proc", "--kill-child"];
const unshareWorks = spawnSync("unshare", [...UNSHARE, "true"], { timeout: 5_000 }).status === 0;
const onCi = process.env.CI === "true";
if (!unshareWorks && !onCi) {
  console.warn("\n*** pid1.test.ts SKIPPED: `unshare --pid --fork --mount-proc` does not work here (needs root or user namespaces) ***\n");
}

const started: Fixture[] = [];
const work = mkdtempSync(path.join(tmpdir(), "sg-pid1-"));
after(() => {
  started.forEach((f) => f.kill());
  rmSync(work, { recursive: true, force: true });
});

/** How each runtime runs the fixture, by absolute paths (npm runs it from another directory). */
function runtimeCommand(runtime: Runtime): string[] {
  if (runtime.name === "node") return [runtime.command, "--import", import.meta.resolve("tsx"), SERVER];
  return [runtime.command, ...runtime.args(SERVER)];
}
const shellQuote = (args: string[]) => args.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");

/** The fixture started as PID 1's `launch` inside a new PID namespace. */
function inNamespace(runtime: Runtime, launch: string[]): Runtime {
  return { name: runtime.name, command: "unshare", args: () => [...UNSHARE, ...launch] };
}

/** The host pid of the namespace's PID 1: the one child of `unshare --fork`. */
function pid1Of(fixture: Fixture): number {
  const pid = fixture.child.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ");
  assert.equal(children.length, 1, `unshare has one child: ${children.join(",")}`);
  return Number(children[0]);
}

for (const runtime of selectedRuntimes()) {
  describe(`PID 1 warning on ${runtime.name}`, { concurrency: false, skip: !unshareWorks && !onCi }, () => {
    const command = runtimeCommand(runtime);
    const dir = path.join(work, runtime.name);
    const npm = ["npm", "--prefix", dir, "--silent", "start"];

    for (
      const { name, launch, chain, why } of [
        {
          name: "npm start",
          launch: npm,
          chain: /"npm .*start" \(PID 1\) -> "sh -c .*" -> this process/,
          why: /shell between PID 1 and this process/,
        },
        {
          name: "sh -c CMD",
          launch: ["sh", "-c", shellQuote(command)],
          chain: /"sh -c .*" \(PID 1\) -> this process/,
          why: /shell as PID 1/,
        },
      ]
    ) {
      it(`${name}: warns at start, and a SIGTERM to PID 1 indeed never starts the drain`, { timeout: 30_000 }, async () => {
        rmSync(dir, { recursive: true, force: true });
        spawnSync("mkdir", ["-p", dir]);
        writeFileSync(
          path.join(dir, "package.json"),
          JSON.stringify({ name: "pid1", private: true, scripts: { start: shellQuote(command) } }),
        );
        const f = await Fixture.start(inNamespace(runtime, launch), SERVER);
        started.push(f);
        const warning = await f.waitFor((l) => l.event === "signals.unreachable", 5_000, "the signals.unreachable warning");
        assert.match(String(warning.msg), chain);
        assert.match(String(warning.msg), why);
        assert.match(String(warning.msg), /exec-form CMD/);
        // What the warning is about: the orchestrator's SIGTERM goes to PID 1 and stops there (sh)
        // or kills the shell (npm), and the runtime never drains.
        process.kill(pid1Of(f), "SIGTERM");
        await assert.rejects(f.waitFor((l) => l.event === "drain.start", 1_500, "drain.start"), /timed out/);
        f.kill();
        await f.exited;
      });
    }

    it("the runtime as PID 1: no warning, and SIGTERM drains", { timeout: 30_000 }, async () => {
      const f = await Fixture.start(inNamespace(runtime, command), SERVER);
      started.push(f);
      process.kill(pid1Of(f), "SIGTERM");
      const exit = await f.exit(10_000);
      assert.equal(exit.code, 0);
      assert.ok(f.log("drain.end"), "the drain ran");
      // The origin check starts before the server listens and the runtime as PID 1 reads nothing,
      // so a warning would be out long before the drain ended.
      assert.equal(f.log("signals.unreachable"), undefined, JSON.stringify(f.log("signals.unreachable")));
    });
  });
}
