// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * One lifecycle per process, however many copies of the package are loaded: the built ESM and CJS
 * of one adapter in one process (an ESM app whose CJS dependency requires the package too), and the
 * ESM of two copies of dist/ (two installed versions). One SIGTERM must give one drain that waits
 * for the slow request of either copy. A copy that speaks another lifecycle protocol fails loudly.
 *
 * Needs a current build (`npm run build`); `npm test` builds first.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bin, requireFile, ROOT, run, said } from "./tools.ts";

const FIXTURE = path.join(ROOT, "test/packaging/fixtures/two-copies.mjs");
const DIST = path.join(ROOT, "dist");
let copies = "";

before(() => {
  for (const adapter of ["node", "bun", "deno"]) {
    for (const ext of ["js", "cjs"]) requireFile(path.join(DIST, `${adapter}.${ext}`), "run npm run build");
  }
  // Inside the repository, so the copies resolve hono and @hono/node-server from its node_modules.
  copies = mkdtempSync(path.join(ROOT, ".two-copies-"));
  cpSync(DIST, path.join(copies, "a"), { recursive: true });
  cpSync(DIST, path.join(copies, "b"), { recursive: true });
});

after(() => {
  if (copies) rmSync(copies, { recursive: true, force: true });
});

const RUNTIMES = {
  node: () => [process.execPath],
  bun: () => [requireFile(bin("bun"))],
  deno: () => [requireFile(bin("deno")), "run", "-A", "--no-lock", "--quiet"],
} as const;

interface Outcome {
  code: number | null;
  events: Record<string, any>[];
  slow: string;
  output: string;
}

/** Start the fixture, send a slow request to the second copy's server, SIGTERM, collect. */
function twoCopies(runtime: keyof typeof RUNTIMES, args: string[]): Promise<Outcome> {
  const [command, ...runtimeArgs] = RUNTIMES[runtime]();
  const child = spawn(command!, [...runtimeArgs, FIXTURE, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  const events: Record<string, any>[] = [];
  let output = "";
  let slow: Promise<string> | undefined;
  return new Promise<Outcome>((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no exit within 15 s:\n${output}`));
    }, 15_000);
    let buffered = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        let event: Record<string, any>;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        events.push(event);
        if (event.event === "ports") {
          slow = fetch(`http://127.0.0.1:${event.second}/slow`).then(
            async (r) => `${r.status} ${await r.text()}`,
            (error) => `failed: ${error.cause?.code ?? error.message}`,
          );
          // The signal once the slow request is in its handler (it answers after 1.5 s).
          setTimeout(() => child.kill("SIGTERM"), 300);
        }
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("close", async (code) => {
      clearTimeout(deadline);
      resolve({ code, events, slow: slow ? await slow : "never sent", output });
    });
  });
}

function assertOneDrain(outcome: Outcome): void {
  const { code, events, slow, output } = outcome;
  assert.equal(events.filter((e) => e.event === "drain.start").length, 1, `drain.start lines\n${output}`);
  const ends = events.filter((e) => e.event === "drain.end");
  assert.equal(ends.length, 1, `drain.end lines\n${output}`);
  assert.equal(slow, "200 second", `the slow request of the second copy\n${output}`);
  assert.equal(code, 0, `exit code\n${output}`);
  assert.equal(events.find((e) => e.event === "ports")?.shared, true, `the copies do not share the lifecycle\n${output}`);
  const end = ends[0]!;
  assert.deepEqual(end.parts.map((p: { name: string }) => p.name).sort(), ["first", "second"]);
  assert.equal(end.requests.inFlightAtStart, 1);
  assert.equal(end.forced, false);
}

describe("one lifecycle per process", { concurrency: true, timeout: 60_000 }, () => {
  for (const runtime of ["node", "bun", "deno"] as const) {
    const name = runtime[0]!.toUpperCase() + runtime.slice(1);
    it(`${name}: import and require of one copy drain once`, async () => {
      assertOneDrain(await twoCopies(runtime, [DIST, runtime]));
    });
    it(`${name}: two installed copies drain once`, async () => {
      assertOneDrain(await twoCopies(runtime, [path.join(copies, "a"), runtime, "esm-twice", path.join(copies, "b")]));
    });
  }

  it("a copy with another lifecycle protocol fails at import, naming the problem", async () => {
    const url = new URL(`file://${path.join(DIST, "node.js")}`).href;
    const program = [
      'globalThis[Symbol.for("serve-gracefully.lifecycle")] = { protocol: 999, runtime: "node", lifecycle: {} };',
      `await import(${JSON.stringify(url)});`,
    ].join("\n");
    const r = await run(process.execPath, ["--input-type=module", "-e", program], { timeoutMs: 10_000 });
    assert.notEqual(r.code, 0, said("import next to protocol 999", r));
    assert.match(r.stderr, /another copy of serve-gracefully in this process \(lifecycle protocol 999\)/);
    assert.match(r.stderr, /npm ls serve-gracefully/);
  });
});
