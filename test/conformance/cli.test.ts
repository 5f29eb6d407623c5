/**
 * The `serve-gracefully` command, black-box on Node, Bun and Deno: the built bin (dist/cli.js) run
 * by each runtime itself, on entries that only `export default` their app. What a container sees:
 * the port it was told, 200s through the signal, exit 0 and the report line; a bad flag or entry
 * ends at once with its exit code and one line that says why.
 *
 * Needs a current build (`npm run build`); `npm test` builds first.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "../support/client.ts";
import { RawWebSocket } from "../support/raw-websocket.ts";
import { assertOutputWritesHarmless } from "../support/closed-output.ts";
import { Fixture, type Line, ROOT, type Runtime, selectedRuntimes } from "../support/harness.ts";
import { nodeBinary } from "../packaging/tools.ts";
import { freePort, onFreePort } from "../support/ports.ts";
import { alive, exitWithOutput } from "../support/processes.ts";

const CLI = path.join(ROOT, "dist/cli.js");
const FIXTURES = "test/fixtures/cli";
const TSX = import.meta.resolve("tsx");
const UNSHARE = ["--pid", "--fork", "--mount-proc", "--kill-child"];
const unshareWorks = spawnSync("unshare", [...UNSHARE, "true"], { timeout: 5_000 }).status === 0;
if (!unshareWorks) {
  console.warn("\n*** cli.test.ts: PID namespace tests SKIPPED: `unshare --pid --fork --mount-proc` does not work here (needs root) ***\n");
}

before(() => {
  // A stale dist/ would test yesterday's command: say so instead.
  const newest = (folder: string) =>
    Math.max(
      ...readdirSync(path.join(ROOT, folder), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => statSync(path.join(ROOT, folder, f)).mtimeMs),
    );
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    assert.fail("dist/cli.js is missing: run npm run build");
  }
  assert.ok(built >= Math.max(newest("src"), newest("adapters")), "dist/ is older than src/ or adapters/: run npm run build");
});

const started: Fixture[] = [];
const startedIn: ChildProcess[] = [];
const cleanupFiles: string[] = [];
after(() => {
  started.forEach((f) => f.kill());
  startedIn.forEach((child) => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"));
  cleanupFiles.forEach((file) => rmSync(file, { force: true, recursive: true }));
});

/** The command line that runs the bin on a runtime; Node 20 runs a TypeScript entry through tsx. */
function commandLine(runtime: Runtime, args: string[], tsx = true): string[] {
  const entry = args.find((a) => /\.(ts|js)$/.test(a));
  if (runtime.name === "node") return [runtime.command, ...(tsx && entry?.endsWith(".ts") ? ["--import", TSX] : []), CLI, ...args];
  if (runtime.name === "bun") return [runtime.command, CLI, ...args];
  return [runtime.command, "run", "-A", CLI, ...args];
}

/** The command as a harness runtime (the harness watches its output and exit). */
const asRuntime = (runtime: Runtime, argv: string[]): Runtime => ({ name: runtime.name, command: argv[0]!, args: () => argv.slice(1) });

/** Starts the command (ended after the tests). */
function command(runtime: Runtime, args: string[], env: Record<string, string> = {}, wrap: string[] = []): Fixture {
  const f = new Fixture(asRuntime(runtime, [...wrap, ...commandLine(runtime, args)]), "", {}, env);
  started.push(f);
  return f;
}

/** Starts the command and waits for its listening line. */
async function serve(runtime: Runtime, args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<Fixture> {
  const f = command(runtime, args, env, wrap);
  const line = await f.waitFor((l) => l.event === "listening", 30_000, "the command to listen");
  f.port = line.port as number;
  return f;
}

/** A start that failed because something else took its port (the command's start.failed line says so). */
const portInUse = (error: unknown): boolean => /already in use|EADDRINUSE/.test(String(error));

/**
 * `serve` on a port picked here, for the tests that check the command honours a port it is told
 * (--port, PORT, the entry's own). The port was free when picked, but other processes on the
 * machine bind ports meanwhile: a start that fails on a port in use is tried again on another.
 */
async function serveOnPort(
  runtime: Runtime,
  given: (port: number) => { args: string[]; env?: Record<string, string>; wrap?: string[] },
  pick?: () => Promise<number>,
): Promise<{ f: Fixture; port: number; attempts: number }> {
  const { port, result, attempts } = await onFreePort(
    (p) => {
      const { args, env, wrap } = given(p);
      return serve(runtime, args, env, wrap);
    },
    portInUse,
    pick,
  );
  return { f: result, port, attempts };
}

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command to its end (killed at a deadline). */
function runToEnd(argv: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

/** The JSON lines of a command's output (anything else skipped). */
const jsonLines = (text: string): Line[] =>
  lines(text).flatMap((l) => {
    try {
      return [JSON.parse(l) as Line];
    } catch {
      return [];
    }
  });

/**
 * The command started in `cwd` (the harness starts everything in the repository's root).
 * `listening()` resolves with its JSON lines once it logs `listening`, or once it exits, within `ms`.
 */
function startIn(cwd: string, argv: string[]) {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  startedIn.push(child); // ended by the file's after() if a test times out before its own finally
  let out = "";
  const exited = exitWithOutput(child).then((exit) => exit.code);
  const listened = new Promise<void>((resolve) => {
    const read = (chunk: string) => {
      out += chunk;
      if (out.includes('"event":"listening"')) resolve();
    };
    child.stdout.setEncoding("utf8").on("data", read);
    child.stderr.setEncoding("utf8").on("data", read);
    void exited.then(() => resolve());
  });
  const listening = async (ms = 30_000): Promise<Line[]> => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([listened, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    return jsonLines(out);
  };
  return { child, exited, listening, output: () => out, kill: () => child.exitCode === null && child.kill("SIGKILL") };
}

/** Four requests in flight, the signal, four 200s, exit 0 and the report line that says so. */
async function drainsFourInFlight(f: Fixture, signal: NodeJS.Signals, send: () => void = () => f.signal(signal)): Promise<void> {
  const responses = Array.from({ length: 4 }, () => request(f.port, "GET", "/slow?ms=800", 15_000));
  const slow = (l: Line) => l.fixture === "slow.start" && f.lines.filter((x) => x.fixture === "slow.start").length >= 4;
  await f.waitFor(slow, 10_000, "four requests in the app");
  send();
  for (const res of await Promise.all(responses)) {
    assert.equal(res.status, 200);
    assert.equal(res.body, "slept 800");
  }
  const exit = await f.exit(15_000);
  assert.equal(exit.code, 0, `exit ${exit.code} ${exit.signal}\n${f.texts.join("\n")}`);
  const end = f.log("drain.end");
  assert.ok(end, "the report line is printed");
  assert.equal(end.signal, signal);
  assert.deepEqual(end.requests, { inFlightAtStart: 4, served: 4, cut: 0 });
  assert.equal(end.exitCode, 0);
}

for (const runtime of selectedRuntimes()) {
  describe(`serve-gracefully command on ${runtime.name}`, { concurrency: false }, () => {
    it(
      "serves a TypeScript `export default app` on --port and drains 4 in-flight requests through SIGTERM",
      { timeout: 60_000 },
      async () => {
        const { f, port } = await serveOnPort(
          runtime,
          (p) => ({ args: ["--port", String(p), "--host", "127.0.0.1", `${FIXTURES}/app.ts`] }),
        );
        assert.equal(f.port, port, "--port is honoured");
        assert.equal(f.log("listening")!.runtime, runtime.name, "the server runs in the runtime that runs the command");
        assert.equal((await request(port, "GET", "/")).body, "hello");
        assert.equal((await request(port, "GET", "/readyz")).status, 200);
        await drainsFourInFlight(f, "SIGTERM");
      },
    );

    it(
      "serves a JavaScript `export default app` on PORT and HOST and drains 4 in-flight requests through SIGINT",
      { timeout: 60_000 },
      async () => {
        const { f, port } = await serveOnPort(
          runtime,
          (p) => ({ args: [`${FIXTURES}/app.js`], env: { PORT: String(p), HOST: "127.0.0.1" } }),
        );
        assert.equal(f.port, port, "PORT is honoured");
        assert.equal(f.log("listening")!.address, "127.0.0.1", "HOST is honoured");
        // The process answering is the runtime the command runs in: no child process.
        assert.equal((await request(port, "GET", "/pid")).body, String(f.child.pid));
        await drainsFourInFlight(f, "SIGINT");
      },
    );

    it(
      "serves a `{ fetch, port }` module on its own port and drains 4 in-flight requests through SIGTERM",
      { timeout: 60_000 },
      async () => {
        const { f, port } = await serveOnPort(
          runtime,
          (p) => ({ args: ["--host", "127.0.0.1", `${FIXTURES}/fetch-port.ts`], env: { ENTRY_PORT: String(p) } }),
        );
        assert.equal(f.port, port, "the module's port is used when no flag or PORT sets one");
        assert.equal((await request(port, "GET", "/")).body, "hello from fetch");
        await drainsFourInFlight(f, "SIGTERM");
      },
    );

    it("serves an entry that awaits at its top level, and a CommonJS entry, each evaluated once", { timeout: 60_000 }, async () => {
      for (const [file, body] of [["top-level-await.js", "awaited"], ["common.cjs", "commonjs"]] as const) {
        const f = await serve(runtime, ["--port", "0", "--host", "127.0.0.1", `${FIXTURES}/${file}`]);
        assert.equal((await request(f.port, "GET", "/")).body, `${body}, evaluated 1 time(s)`, file);
        f.signal("SIGTERM");
        assert.equal((await f.exit(15_000)).code, 0, file);
      }
    });

    it('serves an entry whose path has "%" and "#" in it, given relative to a working directory with "%" in its name', {
      timeout: 60_000,
    }, async () => {
      // URL syntax in a file name: `100%.mjs` was "URI malformed", `a#b.mjs` "not found", and any
      // entry under a folder named with "%" failed, on Node and Bun (Deno served some of them).
      const dir = mkdtempSync(path.join(os.tmpdir(), "sg-100%#-"));
      cleanupFiles.push(dir);
      for (const name of ["100% a#b.mjs", "50%20off.mjs"]) {
        writeFileSync(path.join(dir, name), `export default { fetch: () => new Response(${JSON.stringify(name)}) };\n`);
        const argv = commandLine(runtime, ["--port", "0", "--host", "127.0.0.1", name]);
        const command = startIn(dir, argv);
        try {
          const listening = (await command.listening()).find((l) => l.event === "listening");
          assert.ok(listening, `${name}: not served:\n${command.output()}`);
          assert.equal((await request(Number(listening.port), "GET", "/")).body, name);
          command.child.kill("SIGTERM");
          assert.equal(await command.exited, 0, name);
        } finally {
          command.kill();
        }
      }
    });

    it(
      "answers its first request without what it does not need for it (Deno: a timer; Bun: the output streams), and a failed write on its output is not fatal",
      { timeout: 60_000 },
      async () => {
        const f = await serve(runtime, ["--port", "0", "--host", "127.0.0.1", `${FIXTURES}/first-request.js`]);
        const before = JSON.parse((await request(f.port, "GET", "/")).body) as { timers: number; outputStreams: number };
        // The cold start (docs/cli.md#cold-start): Deno's first setTimeout costs ~10 ms of CPU, Bun's
        // process.stdout ~22 ms, before an answer that needs neither.
        if (runtime.name === "deno") assert.equal(before.timers, 0, "no setTimeout before the first answer on Deno");
        if (runtime.name === "bun") assert.equal(before.outputStreams, 0, "process.stdout/stderr untouched before the first answer on Bun");
        if (runtime.name !== "deno") {
          // Its reader went away: the app's own writes fail with EPIPE, and the command keeps serving.
          await assertOutputWritesHarmless(f, 3);
        }
        f.signal("SIGTERM");
        assert.equal((await f.exit(15_000)).code, 0);
      },
    );

    it("starts the entry's lifecycle(lc) parts before listening and stops them after the drain", { timeout: 60_000 }, async () => {
      const f = await serve(runtime, ["--port", "0", "--host", "127.0.0.1", `${FIXTURES}/with-lifecycle.ts`]);
      assert.equal((await request(f.port, "GET", "/")).body, "db connected");
      assert.equal((await request(f.port, "GET", "/readyz")).status, 200);
      f.signal("SIGTERM");
      const exit = await f.exit(15_000);
      assert.equal(exit.code, 0);
      assert.ok(f.lines.some((l) => l.fixture === "db.closed"), "the part's stop ran");
      const parts = (f.log("drain.end")!.parts as { name: string; outcome: string }[]).map((p) => `${p.name}:${p.outcome}`);
      assert.ok(parts.includes("db:stopped"), parts.join(", "));
    });

    it(
      "an entry that imports serve-gracefully itself shares the command's lifecycle: its part and its waitUntil task",
      { timeout: 60_000 },
      async () => {
        // On Bun the command runs its bytecode build (dist/cli-bun.cjs) and the entry's import loads
        // dist/bun.js: two copies of the library, one process-wide lifecycle.
        const f = await serve(runtime, ["--port", "0", "--host", "127.0.0.1", `${FIXTURES}/imports-package.js`]);
        assert.equal((await request(f.port, "GET", "/")).body, "db connected");
        f.signal("SIGTERM");
        assert.equal((await f.exit(15_000)).code, 0);
        const fixtures = f.lines.map((l) => l.fixture).filter(Boolean);
        assert.deepEqual(fixtures, ["task.done", "db.closed"], "the drain waited for the task, then stopped the part");
        const parts = (f.log("drain.end")!.parts as { name: string; outcome: string }[]).map((p) => `${p.name}:${p.outcome}`);
        assert.ok(parts.includes("db:stopped"), parts.join(", "));
      },
    );

    for (
      const [how, args, env] of [
        ["--workers 2", ["--workers", "2"], {}],
        ["WEB_CONCURRENCY=2", [], { WEB_CONCURRENCY: "2" }],
      ] as const
    ) {
      it(
        `with ${how}, an entry that calls serveGracefully itself is refused at that call with one line, and no worker starts`,
        { timeout: 60_000 },
        async () => {
          // With WEB_CONCURRENCY the entry's own call would read it too and start workers of its own.
          const r = await runToEnd(
            commandLine(runtime, [...args, "--port", "0", "--host", "127.0.0.1", `${FIXTURES}/serves-itself.js`]),
            env,
          );
          assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
          assert.deepEqual(lines(r.stderr).length, 1, r.stderr);
          assert.match(
            r.stderr,
            /^serve-gracefully: test\/fixtures\/cli\/serves-itself\.js calls serveGracefully itself as it loads: with workers/,
          );
          assert.equal(r.stdout, "", "nothing started: no worker, no listening line");
        },
      );
    }

    it("serves the Bun convention's `export default { fetch, websocket }`: the upgrade works and the drain closes it with 1001", {
      timeout: 60_000,
    }, async () => {
      const f = await serve(runtime, ["--port", "0", "--host", "127.0.0.1", `${FIXTURES}/websocket.ts`]);
      const ws = await RawWebSocket.open(f.port);
      try {
        ws.send("hi");
        const deadline = performance.now() + 5_000;
        while (!ws.messages.includes("echo:hi") && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        assert.deepEqual(ws.messages, ["echo:hi"]);
        f.signal("SIGTERM");
        const closed = await Promise.race([ws.closed, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
        assert.equal(closed?.code, 1001, "closed with 1001 within 10 s");
      } finally {
        ws.destroy();
      }
      assert.equal((await f.exit(15_000)).code, 0);
    });

    it("parts an entry adds at its top level log in the format --log-format asks for", { timeout: 60_000 }, async () => {
      // They start while the entry is imported, before serveGracefully has the command's logger.
      const f = command(runtime, ["--log-format", "text", "--port", "0", "--host", "127.0.0.1", `${FIXTURES}/imports-package.js`]);
      await f.waitFor((l) => typeof l.text === "string" && / listening /.test(l.text), 30_000, "the text listening line");
      const partLines = f.texts.filter((t) => t.includes("part.started"));
      assert.equal(partLines.length, 1, f.texts.join("\n"));
      assert.match(partLines[0]!, /^\d\d:\d\d:\d\d\.\d{3} info +part\.started +db started/, "a text line, not JSON");
      f.signal("SIGTERM");
      assert.equal((await f.exit(15_000)).code, 0);
      assert.ok(!f.texts.some((t) => t.startsWith("{") && t.includes('"event"')), `no JSON log line:\n${f.texts.join("\n")}`);
    });

    it(
      "with --workers 2, a part the entry adds at its top level runs in each worker and never in the primary",
      { timeout: 60_000 },
      async () => {
        const f = command(runtime, ["--workers", "2", "--port", "0", "--host", "127.0.0.1", `${FIXTURES}/imports-package.js`]);
        const listening = await f.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
        const workerPids = listening.pids as number[];
        const startedIn = () => f.lines.filter((l) => l.event === "part.started").map((l) => l.pid as number).sort();
        // Each worker said so before it listened; read until both lines are in (the output is one pipe, read as it comes).
        await f.waitFor(() => startedIn().length >= 2, 10_000, "both workers' part.started lines");
        f.signal("SIGTERM");
        assert.equal((await f.exit(20_000)).code, 0);
        assert.deepEqual(startedIn(), [...workerPids].sort(), "one start per worker, none in the primary");
        assert.ok(!f.lines.some((l) => l.event === "workers.parts-in-primary"), "nothing started in the primary to stop");
        assert.equal(f.lines.filter((l) => l.fixture === "db.closed").length, 2, "each worker stopped its part");
      },
    );

    it(
      "with --workers 2, the primary SIGKILLed: each worker drains its requests in flight and exits (the entry imports the package too)",
      { timeout: 60_000 },
      async () => {
        // On Bun the command's copy serves and the entry's copy (dist/bun.js) only joined its lifecycle:
        // that copy, hearing the channel close with no drain of its own, ended the worker at once (exit 1,
        // every request in flight cut; an outside probe).
        const f = command(runtime, ["--workers", "2", "--port", "0", "--host", "127.0.0.1", `${FIXTURES}/imports-package.js`]);
        const listening = await f.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
        const workerPids = listening.pids as number[];
        try {
          const slow = Array.from({ length: 4 }, () => request(listening.port as number, "GET", "/slow", 15_000));
          await f.waitFor(() => f.lines.filter((l) => l.fixture === "slow.start").length >= 4, 10_000, "four requests in flight");
          f.signal("SIGKILL"); // the primary alone
          // What the clients and the orchestrator see (the workers' own lines may come after the
          // harness stopped reading the dead primary's pipes).
          for (const answer of await Promise.all(slow)) assert.equal(`${answer.status} ${answer.body}`, "200 slow done");
          const deadline = performance.now() + 15_000;
          while (workerPids.some(alive) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
          assert.deepEqual(workerPids.filter(alive), [], "no worker left behind");
        } finally {
          for (const pid of workerPids.filter(alive)) process.kill(pid, "SIGKILL");
        }
      },
    );

    it(
      "with --workers 2, a reload whose entry now throws says why in its reload.failed line, and the old workers serve on",
      { timeout: 60_000 },
      async () => {
        // A copy next to the fixtures (its imports resolve from there), edited after the start.
        const entry = `${FIXTURES}/.reload-throws-${runtime.name}-${process.pid}.js`;
        const file = path.join(ROOT, entry);
        copyFileSync(path.join(ROOT, FIXTURES, "app.js"), file);
        cleanupFiles.push(file);
        const f = command(runtime, ["--workers", "2", "--port", "0", "--host", "127.0.0.1", entry]);
        const listening = await f.waitFor((l) => l.event === "listening" && l.workers === 2, 30_000, "the primary's listening line");
        const oldPids = listening.pids as number[];
        writeFileSync(
          file,
          readFileSync(file, "utf8").replace(
            "const app = new Hono();",
            'throw new Error("REDIS_URL is not set");\nconst app = new Hono();',
          ),
        );
        f.signal("SIGHUP");
        const failed = await f.waitFor((l) => l.event === "reload" || l.event === "reload.failed", 30_000, "the reload's line");
        assert.equal(failed.event, "reload.failed", JSON.stringify(failed));
        // It said only "exited with code 1 before it listened"; the cause was in the worker's stderr alone.
        assert.match(String(failed.error), /\.reload-throws-\w+-\d+\.js threw while loading: REDIS_URL is not set/, JSON.stringify(failed));
        const answer = await request(listening.port as number, "GET", "/pid");
        assert.equal(answer.status, 200);
        assert.ok(oldPids.includes(Number(answer.body)), `an old worker answered: ${answer.body}`);
        f.signal("SIGTERM");
        assert.equal((await f.exit(20_000)).code, 0);
      },
    );

    it("with no entry given, serves src/index.ts (where Hono's starters put it) and says so", { timeout: 60_000 }, async () => {
      const argv = commandLine(runtime, ["--port", "0", "--host", "127.0.0.1"]);
      // Node 20 needs tsx for the picked TypeScript file.
      if (runtime.name === "node") argv.splice(1, 0, "--import", TSX);
      // Started in the project's folder (the harness starts everything in the repository's root).
      const project = path.join(ROOT, FIXTURES, "project");
      const command = startIn(project, argv);
      try {
        const logged = await command.listening();
        const picked = logged.find((l) => l.event === "cli.entry");
        assert.ok(picked, `no cli.entry line:\n${command.output()}`);
        assert.equal(picked.entry, "src/index.ts");
        assert.match(String(picked.msg), /no entry given: serving src\/index\.ts/);
        const listening = logged.find((l) => l.event === "listening");
        assert.ok(listening, `not served:\n${command.output()}`);
        assert.equal((await request(Number(listening.port), "GET", "/")).body, "hello from src/index.ts");
        command.child.kill("SIGTERM");
        assert.equal(await command.exited, 0);
      } finally {
        command.kill();
      }
    });

    it("--check prints every resolved setting and where it came from, and exits 0 without listening", { timeout: 60_000 }, async () => {
      const r = await runToEnd(commandLine(runtime, ["--check", "--timeout", "20000", `${FIXTURES}/fetch-port.ts`]), {
        KUBERNETES_SERVICE_HOST: "10.96.0.1",
        ENTRY_PORT: "4321",
        LOG_FORMAT: "text",
      });
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, /^entry: +test\/fixtures\/cli\/fetch-port\.ts \(object with fetch\)$/m);
      assert.match(out, new RegExp(`^runtime: +${runtime.name} \\d+\\.\\d+\\.\\d+$`, "m"));
      assert.match(out, /^port: +4321 \(entry\)$/m);
      assert.match(out, /^host: +0\.0\.0\.0 \(default\)$/m);
      assert.match(out, /^timeout: +20000 ms \(--timeout\)$/m);
      assert.match(out, /^drain-delay: +5000 ms \(platform kubernetes\)$/m);
      assert.match(out, /^keep-alive-timeout: +75000 ms \(default\)$/m);
      assert.match(out, /^ready-path: +\/readyz \(default\)$/m);
      assert.match(out, /^live-path: +\/livez \(default\)$/m);
      assert.match(out, /^platform: +kubernetes /m);
      assert.match(out, /^workers: +1 /m);
      assert.match(out, /^log-format: +text \(env LOG_FORMAT\)$/m);
      assert.doesNotMatch(out + r.stderr, /listening/);
    });

    it("port precedence: --port, then PORT, then the entry's own port", { timeout: 60_000 }, async () => {
      const entry = `${FIXTURES}/fetch-port.ts`;
      const env = { ENTRY_PORT: "4321", PORT: "5432" };
      const port = async (args: string[], e: Record<string, string>) => {
        const r = await runToEnd(commandLine(runtime, ["--check", ...args, entry]), e);
        assert.equal(r.code, 0, r.stderr);
        return /^port: +(.*)$/m.exec(r.stdout)![1];
      };
      assert.equal(await port(["-p", "6543"], env), "6543 (--port)");
      assert.equal(await port([], env), "5432 (env PORT)");
      assert.equal(await port([], { ENTRY_PORT: "4321" }), "4321 (entry)");
    });

    const usage: { name: string; args: string[]; env?: Record<string, string>; says: RegExp }[] = [
      { name: "an unknown flag", args: ["--bogus"], says: /unknown flag --bogus/ },
      { name: "a flag without its value", args: [`${FIXTURES}/app.js`, "--port"], says: /--port needs a value/ },
      {
        name: "a bad --timeout",
        args: ["--timeout=25s", `${FIXTURES}/app.js`],
        says: /--timeout: "timeout" must be a positive number of ms, got "25s"/,
      },
      {
        name: "a port out of range",
        args: ["--port", "70000", `${FIXTURES}/app.js`],
        says: /--port: "port" must be an integer from 0 to 65535, got 70000/,
      },
      {
        name: "a bad variable",
        args: [`${FIXTURES}/app.js`],
        env: { DRAIN_DELAY_MS: "soon" },
        says: /DRAIN_DELAY_MS: "drainDelay" must be a non-negative number of ms, got "soon"/,
      },
      {
        name: "a bad PORT",
        args: [`${FIXTURES}/app.js`],
        env: { PORT: "http" },
        says: /PORT: "port" must be an integer from 0 to 65535 \(from the PORT environment variable\), got "http"/,
      },
      {
        name: "a drain delay not under the timeout",
        args: ["--timeout", "1000", "--drain-delay", "2000", `${FIXTURES}/app.js`],
        says: /--drain-delay: "drainDelay" must be 0: a "timeout" of 1000 ms leaves no room for a delay/,
      },
      {
        name: "a bad health path",
        args: ["--ready-path", "readyz", `${FIXTURES}/app.js`],
        says: /--ready-path: "health.ready" must be a path starting with "\/"/,
      },
      {
        name: "an unknown log format",
        args: ["--log-format", "xml", `${FIXTURES}/app.js`],
        says: /--log-format: the log format must be one of json, text, silent, got "xml"/,
      },
      { name: "two entries", args: [`${FIXTURES}/app.js`, `${FIXTURES}/app.ts`], says: /one entry file expected, got 2/ },
      {
        name: "a negative number after a flag",
        args: ["--port", "-1", `${FIXTURES}/app.js`],
        says: /--port needs a value \(one that starts with "-" is written --port=-1\)/,
      },
      { name: "a flag followed by a flag", args: ["--port", "--timeout", "5", `${FIXTURES}/app.js`], says: /--port needs a value/ },
      {
        // Said as the library says it (the command's own check of the variable left out where it came from).
        name: "a WEB_CONCURRENCY of 0",
        args: [`${FIXTURES}/app.js`],
        env: { WEB_CONCURRENCY: "0" },
        says:
          /WEB_CONCURRENCY: "workers" must be a whole number from 1 to 1024 or "auto" \(from the WEB_CONCURRENCY environment variable\), got "0"/,
      },
      {
        name: "clashing health paths",
        args: ["--ready-path", "/same", "--live-path", "/same", `${FIXTURES}/app.js`],
        says: /--ready-path, --live-path: "health.ready" and "health.live" must be different paths, both are "\/same"/,
      },
    ];
    // Each of these only starts the command and reads its one line: three at a time.
    describe("a bad flag or entry: one line and the exit code", { concurrency: 3 }, () => {
      for (const { name, args, env, says } of usage) {
        it(`${name}: exit 2 and one line with a hint to --help`, { timeout: 60_000 }, async () => {
          const r = await runToEnd(commandLine(runtime, args), env);
          assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
          assert.equal(r.stdout, "");
          assert.equal(lines(r.stderr).length, 1, r.stderr);
          assert.match(r.stderr, /^serve-gracefully: /);
          assert.match(r.stderr, says);
          assert.match(r.stderr, /serve-gracefully --help/);
        });
      }

      const broken: { name: string; entry: string; says: RegExp; own?: RegExp }[] = [
        { name: "a missing entry", entry: `${FIXTURES}/missing.ts`, says: /test\/fixtures\/cli\/missing\.ts not found/ },
        {
          name: "an entry that throws at import",
          entry: `${FIXTURES}/throws.ts`,
          says: /test\/fixtures\/cli\/throws\.ts threw while loading: DATABASE_URL is not set/,
          own: /throws\.ts/,
        },
        {
          name: "an entry whose lifecycle(lc) throws",
          entry: `${FIXTURES}/lifecycle-throws.js`,
          says: /lifecycle-throws\.js's lifecycle\(lc\) threw: REDIS_URL is not set/,
          own: /lifecycle-throws\.js/,
        },
        {
          name: "an entry with a syntax error",
          entry: `${FIXTURES}/syntax-error.js`,
          says: /test\/fixtures\/cli\/syntax-error\.js has a syntax error/,
        },
        {
          // Bun and Deno say where; Node's error does not, and the line says that rather than blame the entry.
          name: "an entry that imports a module with a syntax error",
          entry: `${FIXTURES}/imports-syntax-error.js`,
          says:
            /imports-syntax-error\.js (imports test\/fixtures\/cli\/syntax-error\.js, which has a syntax error: .+ \(line \d+, column \d+\)$|has a syntax error: .+ \(in it or in a module it imports: Node's error does not say which\)$)/,
        },
        {
          name: "an entry that imports a module with two syntax errors",
          entry: `${FIXTURES}/imports-syntax-errors.js`,
          says:
            /imports-syntax-errors\.js (imports test\/fixtures\/cli\/syntax-errors\.js, which has a syntax error: .+ \(line \d+, column \d+\)$|has a syntax error: .+ \(in it or in a module it imports: Node's error does not say which\)$)/,
        },
        {
          name: "an entry without a default export",
          entry: `${FIXTURES}/no-default.ts`,
          says: /no-default\.ts has no default export \(it exports app\)/,
        },
        {
          name: "a directory as the entry",
          entry: `${FIXTURES}/project`,
          says: /test\/fixtures\/cli\/project is a directory: the entry is a module file/,
        },
        {
          name: "a directory with an index file as the entry",
          entry: `${FIXTURES}/app-dir`,
          says: /test\/fixtures\/cli\/app-dir is a directory: the entry is a module file/,
        },
        {
          name: "an entry that ends the process while loading",
          entry: `${FIXTURES}/exits-while-loading.js`,
          says: /exits-while-loading\.js ended the process while loading \(exit 0, made 1: nothing was served\)/,
        },
        {
          name: "an entry whose default export cannot serve",
          entry: `${FIXTURES}/bad-default.js`,
          says: /bad-default\.js's default export is an object without a fetch method/,
        },
        {
          name: "an entry whose default export is the class, not an app",
          entry: `${FIXTURES}/default-class.js`,
          says: /default-class\.js's default export is the class Hono, not an app: export an instance/,
        },
      ];
      for (const { name, entry, says, own } of broken) {
        it(`${name}: exit 1 and one line that names the file`, { timeout: 60_000 }, async () => {
          const r = await runToEnd(commandLine(runtime, [entry]));
          assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
          assert.equal(r.stdout, "");
          const [first, ...rest] = lines(r.stderr);
          assert.match(first!, /^serve-gracefully: /);
          assert.match(first!, says);
          // Then the entry's own error and stack, when it threw; nothing else otherwise.
          if (own) assert.match(rest.join("\n"), own, r.stderr);
          else if (!/syntax/.test(name)) assert.deepEqual(rest, [], r.stderr);
          assert.doesNotMatch(r.stderr, /\/dist\/|cli\.js|node:internal/, "no frames of the command's internals");
        });
      }
    });

    if (runtime.name === "node") {
      // The advice is for a Node without type stripping (< 22.18): the matrix's newer Nodes run the entry.
      const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
      const strips = major > 22 || (major === 22 && minor >= 18);
      const skip = strips && `Node ${process.versions.node} strips types: it runs a .ts entry`;
      it("Node 20 with a TypeScript entry: one line of advice instead of a syntax error", { timeout: 60_000, skip }, async () => {
        const r = await runToEnd(commandLine(runtime, [`${FIXTURES}/app.ts`], false));
        assert.equal(r.code, 1, r.stderr);
        assert.equal(lines(r.stderr).length, 1, r.stderr);
        assert.match(
          r.stderr,
          /app\.ts is TypeScript, which Node 20\.\d+\.\d+ does not run: use Node 22\.18 or newer, or node --import tsx/,
        );
      });

      it("a .tsx entry: the advice names tsx, not a newer Node (type stripping runs no JSX)", { timeout: 60_000 }, async () => {
        const file = `${FIXTURES}/.app-${process.pid}.tsx`;
        copyFileSync(path.join(ROOT, FIXTURES, "app.ts"), path.join(ROOT, file));
        cleanupFiles.push(path.join(ROOT, file));
        const r = await runToEnd(commandLine(runtime, [file], false));
        assert.equal(r.code, 1, r.stderr);
        assert.equal(lines(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, /\.app-\d+\.tsx is TSX, which Node \d+\.\d+\.\d+ does not run .*: use node --import tsx /);
        assert.doesNotMatch(r.stderr, /22\.18 or newer/);
      });

      it("an ES module as .js in a CommonJS package: the syntax error says how to fix it", { timeout: 60_000 }, async () => {
        const r = await runToEnd(commandLine(runtime, [`${FIXTURES}/commonjs-package/app.js`]));
        assert.equal(r.code, 1, r.stderr);
        // Node's own warning comes first ("To load an ES module, set ..."), then the command's line.
        assert.match(
          lines(r.stderr).find((l) => l.startsWith("serve-gracefully: ")) ?? r.stderr,
          /app\.js has a syntax error: Cannot use import statement outside a module.*: Node reads a \.js file as CommonJS unless its package\.json says "type": "module"; add that, or name the file \.mjs$/,
        );
      });

      it("an entry whose top-level await never settles: exit 13 and one line that names it", { timeout: 60_000 }, async () => {
        const r = await runToEnd(commandLine(runtime, [`${FIXTURES}/never-loads.js`]));
        assert.equal(r.code, 13, r.stderr);
        assert.match(
          r.stderr,
          /^serve-gracefully: test\/fixtures\/cli\/never-loads\.js never finished loading: its top-level await still waited/m,
        );
      });

      it("a port taken between the test's pick and the command's bind: started again on another port", { timeout: 60_000 }, async () => {
        const holder = net.createServer();
        await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
        const taken = (holder.address() as net.AddressInfo).port;
        const picks = [taken];
        try {
          const { f, port, attempts } = await serveOnPort(
            runtime,
            (p) => ({ args: ["--port", String(p), "--host", "127.0.0.1", `${FIXTURES}/app.js`] }),
            async () => picks.shift() ?? freePort(),
          );
          assert.equal(attempts, 2, "the taken port failed the first start");
          assert.notEqual(port, taken);
          assert.equal(f.port, port, "--port is honoured on the second port");
          f.signal("SIGTERM");
          assert.equal((await f.exit(15_000)).code, 0);
        } finally {
          holder.close();
        }
      });

      it("Node 22 runs a TypeScript entry itself (type stripping)", { timeout: 240_000 }, async () => {
        const node22 = nodeBinary("22");
        const { f, port } = await serveOnPort(
          { ...runtime, command: node22 },
          (p) => ({ args: ["--port", String(p), "--host", "127.0.0.1", `${FIXTURES}/app.ts`] }),
        );
        assert.equal((await request(port, "GET", "/")).body, "hello");
        f.signal("SIGTERM");
        assert.equal((await f.exit(15_000)).code, 0);
      });
    }

    it("in a PID namespace the runtime is PID 1, gets SIGTERM and drains", { timeout: 60_000, skip: !unshareWorks }, async () => {
      const { f, port } = await serveOnPort(runtime, (p) => ({
        args: ["--port", String(p), "--host", "127.0.0.1", `${FIXTURES}/app.ts`],
        wrap: ["unshare", ...UNSHARE],
      }));
      // unshare --fork has one child: the runtime, PID 1 inside the namespace.
      const unsharePid = f.child.pid!;
      const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(" ");
      assert.equal(children.length, 1);
      const hostPid = Number(children[0]);
      assert.equal((await request(port, "GET", "/pid")).body, "1", "the process that answers is PID 1");
      assert.match(readFileSync(`/proc/${hostPid}/cmdline`, "utf8").split("\0")[0]!, new RegExp(`(node|bun|deno)$`));
      assert.equal(f.log("signals.unreachable"), undefined, "no warning: PID 1 gets the signal");
      await drainsFourInFlight(f, "SIGTERM", () => process.kill(hostPid, "SIGTERM"));
    });
  });
}
