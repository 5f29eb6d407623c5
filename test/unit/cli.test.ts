/**
 * The command's runtime-agnostic half: precedence (flag, variable, entry, platform), the same
 * messages as serveGracefully's options, the entry contract, and what each outcome returns.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { describe, it } from "node:test";
import { type CommandRuntime, runCommand } from "../../src/cli/command.ts";
import { textLine } from "../../src/cli/text-log.ts";
import { fakeWorld, settle as settleTurns } from "./fakes.ts";
import { EntryError, entryParts } from "../../src/cli/entry.ts";
import { FLAGS, parseArgsOptions, parseArgsUsage } from "../../src/cli/flags.ts";
import { helpText } from "../../src/cli/help.ts";
import { readFlags, resolveSettings, UsageError } from "../../src/cli/settings.ts";
import { resolveOptions } from "../../src/options/options.ts";
import { fileUrl, urlPath } from "../../adapters/cli-main.ts";

const app = { fetch: () => new Response("ok") };
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];
const entry = (extra: Record<string, unknown> = {}) => entryParts({ default: { ...app, ...extra } }, "src/index.ts");
const settle = (values: Record<string, string | boolean>, vars: Record<string, string> = {}, parts = entry()) =>
  resolveSettings(readFlags(values, envOf(vars)), parts, "src/index.ts", envOf(vars));

describe("flags and variables", () => {
  it("PrecedenceIsFlagThenVariableThenEntryThenDefault", () => {
    const parts = entry({ port: 4000, hostname: "127.0.0.1" });
    assert.equal(settle({ port: "1" }, { PORT: "2" }, parts).resolved.port, 1);
    assert.equal(settle({}, { PORT: "2" }, parts).resolved.port, 2);
    assert.equal(settle({}, {}, parts).resolved.port, 4000);
    assert.equal(settle({}, {}).resolved.port, 3000);
    assert.equal(settle({ host: "::1" }, { HOST: "10.0.0.1" }, parts).resolved.hostname, "::1");
    assert.equal(settle({}, { HOST: "10.0.0.1" }, parts).resolved.hostname, "10.0.0.1");
    assert.equal(settle({}, {}, parts).resolved.hostname, "127.0.0.1");
  });

  it("PlatformDefaultsApplyUnderFlagsAndVariables", () => {
    const k8s = { KUBERNETES_SERVICE_HOST: "10.96.0.1" };
    const s = settle({}, k8s);
    assert.equal(s.resolved.drainDelay, 5000);
    assert.equal(s.sources.drainDelay, "platform");
    assert.equal(settle({}, { ...k8s, DRAIN_DELAY_MS: "1000" }).resolved.drainDelay, 1000);
    assert.equal(settle({ "drain-delay": "0" }, { ...k8s, DRAIN_DELAY_MS: "1000" }).resolved.drainDelay, 0);
  });

  it("EveryValueFlagHasAVariableAndTheOptionRulesMessages", () => {
    for (const flag of FLAGS.filter((f) => f.value !== undefined)) assert.ok(flag.env, `--${flag.name} has no variable`);
    // The message is serveGracefully's own, with the flag or variable in front.
    let rule = "";
    try {
      resolveOptions({ timeout: "25s" }, () => undefined);
    } catch (error) {
      rule = (error as Error).message.replace(/^serveGracefully: /, "");
    }
    assert.throws(
      () => readFlags({ timeout: "25s" }, envOf({})),
      (e: Error) => e instanceof UsageError && e.message === `--timeout: ${rule}`,
    );
    assert.throws(() => readFlags({}, envOf({ SHUTDOWN_TIMEOUT_MS: "25s" })), { message: `SHUTDOWN_TIMEOUT_MS: ${rule}` });
  });

  it("ClashingHealthPathsNameBothFlagsOrTheDefault", () => {
    assert.throws(
      () => settle({ "ready-path": "/same" }, { LIVE_PATH: "/same" }),
      /^UsageError: --ready-path, LIVE_PATH: "health.ready" and "health.live" must be different paths, both are "\/same"$/,
    );
    assert.throws(
      () => settle({}, { READY_PATH: "/livez" }),
      /^UsageError: READY_PATH: "health.ready" and "health.live" must be different paths, both are "\/livez", the default of health.live$/,
    );
  });

  it("ANumberMayBeWrittenWithAnExponentOrSpacesAround", () => {
    assert.equal(settle({ timeout: "1e3" }).resolved.timeout, 1000);
    // WEB_CONCURRENCY=" 2 " starts 2 workers through serveGracefully alone too.
    assert.equal(settle({}, { WEB_CONCURRENCY: " 2 " }).resolved.workers.requested, 2);
    assert.equal(settle({}, { WEB_CONCURRENCY: " auto" }).resolved.workers.requested, "auto");
    // Left to serveGracefully: its listening line says WEB_CONCURRENCY, not "the workers option".
    const fromEnv = settle({}, { WEB_CONCURRENCY: "2" });
    assert.equal(fromEnv.options.workers, undefined);
    assert.deepEqual(fromEnv.resolved.workers, { requested: 2, from: "WEB_CONCURRENCY" });
    assert.equal(fromEnv.sources.workers, "$WEB_CONCURRENCY");
    assert.equal(settle({ workers: "2" }, { WEB_CONCURRENCY: "3" }).options.workers, 2, "the flag wins, as an option");
    assert.throws(() => settle({ timeout: "1e" }), /--timeout: "timeout" must be a positive number of ms, got "1e"/);
  });

  it("AFlagFollowedByADashNeedsItsValue", () => {
    const usage = (args: string[]) => {
      try {
        parseArgs({ args, options: parseArgsOptions(), allowPositionals: true, strict: true });
      } catch (error) {
        return parseArgsUsage(error, args);
      }
      return "parsed";
    };
    assert.equal(usage(["--port", "-1"]), '--port needs a value (one that starts with "-" is written --port=-1)');
    assert.equal(usage(["-p", "-1", "app.ts"]), '-p needs a value (one that starts with "-" is written --port=-1)');
    assert.equal(usage(["--port", "--timeout", "5"]), "--port needs a value");
    assert.equal(usage(["app.ts", "--port"]), "--port needs a value");
    assert.equal(usage(["--check=1"]), "--check takes no value");
    assert.equal(usage(["--bogus"]), "unknown flag --bogus");
    assert.equal(usage(["--port=-1"]), "parsed");
  });

  it("HealthPathsTurnOffWithFalse", () => {
    const s = settle({ "ready-path": "false" }, { LIVE_PATH: "/healthz" });
    assert.deepEqual(s.resolved.health, { ready: false, live: "/healthz" });
  });

  it("ACombinationNamesBothFlags", () => {
    assert.throws(
      () => settle({ timeout: "1000", "drain-delay": "2000" }),
      /^UsageError: --timeout, --drain-delay: "drainDelay" must be 0: a "timeout" of 1000 ms leaves no room/,
    );
  });

  it("ABadPortInTheEntryIsTheEntrysFault", () => {
    assert.throws(
      () => settle({}, {}, entry({ port: "eighty" })),
      (e: Error) => e instanceof EntryError && /src\/index\.ts's default export: "port"/.test(e.message),
    );
  });

  it("HelpListsEveryFlagAndVariable", () => {
    const help = helpText();
    for (const flag of FLAGS) {
      assert.ok(help.includes(`--${flag.name}`), `--${flag.name} is not in --help`);
      if (flag.env) assert.ok(help.includes(flag.env), `${flag.env} is not in --help`);
    }
  });
});

describe("the entry contract", () => {
  it("TakesAHonoAppAFetchObjectOrAFetchFunction", () => {
    assert.equal(entryParts({ default: app }, "a.ts").kind, "object with fetch");
    assert.equal(entryParts({ default: () => new Response() }, "a.ts").kind, "fetch function");
    const hono = { fetch: () => new Response(), route() {}, get() {}, port: 1 };
    const parts = entryParts({ default: hono }, "a.ts");
    assert.equal(parts.kind, "hono app");
    assert.equal(parts.port, undefined, "a Hono app's own properties are not the Bun convention's port");
  });

  it("RejectsWhatCannotServe", () => {
    assert.throws(() => entryParts({ app }, "a.ts"), /a\.ts has no default export \(it exports app\)/);
    assert.throws(() => entryParts({ default: 42 }, "a.ts"), /a\.ts's default export is number/);
    assert.throws(() => entryParts({ default: app, lifecycle: 1 }, "a.ts"), /"lifecycle" export must be a function/);
    // `export default Hono`: a function, but calling a class throws on every request.
    class Hono {
      fetch() {
        return new Response();
      }
    }
    assert.throws(() => entryParts({ default: Hono }, "a.ts"), /a\.ts's default export is the class Hono, not an app: export an instance/);
    assert.throws(() => entryParts({ default: class {} }, "a.ts"), /default export is a class, not an app/);
    // A class with a static fetch serves as an object with fetch does.
    class Static {
      static fetch() {
        return new Response();
      }
    }
    assert.equal(entryParts({ default: Static }, "a.ts").kind, "object with fetch");
    assert.throws(() => entryParts({ default: Promise.resolve(app) }, "a.ts"), /default export is a Promise \(await it/);
    assert.throws(() => entryParts({ default: { ...app, websocket: "on" } }, "a.ts"), /"websocket" must be an object.*got string/);
  });

  it("TakesTheWebSocketOptionOfTheBunConvention", () => {
    const websocket = { message() {} };
    assert.equal(entryParts({ default: { ...app, websocket } }, "a.ts").websocket, websocket);
    assert.equal(entryParts({ default: app }, "a.ts").websocket, undefined);
    const hono = { fetch: () => new Response(), route() {}, get() {}, websocket };
    assert.equal(entryParts({ default: hono }, "a.ts").websocket, undefined, "a Hono app's own properties are not options");
  });
});

describe("runCommand", () => {
  function fake(args: Partial<CommandRuntime>): { rt: CommandRuntime; out: string[]; err: string[]; served: unknown[] } {
    const out: string[] = [];
    const err: string[] = [];
    const served: unknown[] = [];
    const rt: CommandRuntime = {
      parsed: { values: {}, positionals: [] },
      env: () => undefined,
      pathKind: (file) => (file === "src/index.ts" ? "file" : undefined),
      watchExit: () => () => {},
      importEntry: async () => ({ default: app }),
      entryThrown: (thrown) => thrown,
      runtime: "node 20.0.0",
      packageVersion: "0.0.0",
      honoVersion: () => "4.0.0",
      autoWorkers: () => Promise.resolve({ cpus: 3, from: "cgroup cpu.max 300000 100000" }),
      serveGracefully: (_app, o) => {
        served.push(o);
        return {} as ReturnType<CommandRuntime["serveGracefully"]>;
      },
      webSocketOption: true,
      lifecycle: {} as CommandRuntime["lifecycle"],
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      ...args,
    };
    return { rt, out, err, served };
  }

  it("PicksSrcIndexWhenNoEntryIsGivenAndServesWithExplicitPort", async () => {
    const f = fake({});
    assert.equal(await runCommand(f.rt), "serving");
    assert.equal((f.served[0] as { port: number }).port, 3000);
  });

  it("PassesTheEntrysWebSocketOptionWhereTheRuntimeTakesOne", async () => {
    const websocket = { message() {} };
    const importEntry = async () => ({ default: { ...app, websocket } });
    const taken = fake({ importEntry });
    assert.equal(await runCommand(taken.rt), "serving");
    assert.equal((taken.served[0] as { websocket?: unknown }).websocket, websocket);
    const deno = fake({ importEntry, webSocketOption: false });
    assert.equal(await runCommand(deno.rt), "serving");
    assert.ok(!("websocket" in (deno.served[0] as object)), "Deno's serveGracefully has no websocket option");
    // --check says so.
    const parsed = { values: { check: true }, positionals: ["app.ts"] };
    const checked = fake({ importEntry, parsed });
    assert.equal(await runCommand(checked.rt), 0);
    assert.match(checked.out.join("\n"), /^entry: +app\.ts \(object with fetch, websocket\)$/m);
    const onDeno = fake({ importEntry, parsed, runtime: "deno 2.9.6", webSocketOption: false });
    assert.equal(await runCommand(onDeno.rt), 0);
    assert.match(onDeno.out.join("\n"), /\(object with fetch, websocket \(not used on Deno\)\)$/m);
  });

  it("LooksForAGivenEntryOnlyWhenItsImportFails", async () => {
    const looked: string[] = [];
    const pathKind = (
      file: string,
    ) => (looked.push(file), file === "app.ts" ? "file" as const : file === "src" ? "directory" as const : undefined);
    const given = (file: string) => ({ values: {}, positionals: [file] });
    const served = fake({ parsed: given("app.ts"), pathKind });
    assert.equal(await runCommand(served.rt), "serving");
    assert.deepEqual(looked, []);
    // The entry's import fails: exit 1, and the one line says why.
    const failing = async (file: string, error: Error) => {
      const f = fake({ parsed: given(file), pathKind, importEntry: () => Promise.reject(error) });
      assert.equal(await runCommand(f.rt), 1);
      return f.err;
    };
    assert.deepEqual(await failing("gone.ts", new Error("Cannot find module")), ["serve-gracefully: gone.ts not found"]);
    assert.deepEqual(
      await failing("app.ts", new EntryError("app.ts threw while loading: Cannot find module 'pg'")),
      ["serve-gracefully: app.ts threw while loading: Cannot find module 'pg'"],
    );
    // A directory is refused by its name, whatever the runtime's import said about it.
    assert.deepEqual(
      await failing("src", new Error("Directory import is not supported")),
      ["serve-gracefully: src is a directory: the entry is a module file (src/index.ts, for example)"],
    );
    // Bun's import serves a directory's index file: a name without a module file's extension is
    // looked at before the import, and refused without it.
    for (const dir of ["api.v2", "..", "lib/"]) {
      const f = fake({
        parsed: given(dir),
        pathKind: () => "directory",
        importEntry: () => Promise.resolve({ default: { fetch: () => new Response() } }),
      });
      assert.equal(await runCommand(f.rt), 1, dir);
      assert.deepEqual(f.err, [`serve-gracefully: ${dir} is a directory: the entry is a module file (${dir}/index.ts, for example)`]);
    }
  });

  it("AnExitWhileTheEntryLoadsIsSaidAndIsNoSuccess", async () => {
    let onExit: ((code: number) => number) | undefined;
    const codes: number[] = [];
    const f = fake({
      watchExit: (listener) => ((onExit = listener), () => (onExit = undefined)),
      // The entry ends the process at its top level: the runtime runs the exit listeners then.
      importEntry: async () => (codes.push(onExit!(0), onExit!(3), onExit!(13)), { default: app }),
    });
    assert.equal(await runCommand(f.rt), "serving");
    assert.deepEqual(codes, [1, 3, 13]);
    assert.deepEqual(f.err, [
      "serve-gracefully: src/index.ts ended the process while loading (exit 0, made 1: nothing was served)",
      "serve-gracefully: src/index.ts ended the process while loading (exit 3)",
      "serve-gracefully: src/index.ts never finished loading: its top-level await still waited when nothing was left to run (exit 13)",
    ]);
    assert.equal(onExit, undefined, "no longer watched once the entry has loaded");
  });

  it("LooksForNoEntryButFilesWhenNoneIsGiven", async () => {
    // A directory named like an entry (src/index.ts/) is passed over, as on every runtime.
    const kinds: Record<string, "file" | "directory"> = { "src/index.ts": "directory", "src/index.js": "file" };
    const picked: string[] = [];
    const f = fake({ pathKind: (file) => kinds[file], importEntry: async (file) => (picked.push(file), { default: app }) });
    assert.equal(await runCommand(f.rt), "serving");
    assert.deepEqual(picked, ["src/index.js"]);
  });

  it("ExitCodes", async () => {
    assert.equal(await runCommand(fake({ parsed: { error: "unknown flag --x" } }).rt), 2);
    assert.equal(await runCommand(fake({ pathKind: () => undefined }).rt), 1);
    const auto = fake({ parsed: { values: { check: true, workers: "auto" }, positionals: [] } });
    assert.equal(await runCommand(auto.rt), 0);
    assert.match(auto.out.join("\n"), /^workers: +3 \(auto: cgroup cpu\.max 300000 100000\) \(--workers\)$/m);
    assert.equal(await runCommand(fake({ parsed: { values: { check: true }, positionals: [] } }).rt), 0);
    const thrower = fake({
      importEntry: () => Promise.reject(new EntryError("src/index.ts threw while loading: x", { cause: new Error("x") })),
    });
    assert.equal(await runCommand(thrower.rt), 1);
    assert.match(thrower.err[0]!, /^serve-gracefully: src\/index\.ts threw while loading: x$/);
    assert.match(thrower.err[1]!, /^Error: x\n/, "then the entry's own error and stack");
  });

  it("TextLinesNameTheProcessWhenTheRecordHasAPid", (t) => {
    const log = t.mock.method(console, "log", () => {});
    textLine({ level: "info", event: "part.started", msg: "db started", time: 0 });
    textLine({ level: "info", event: "part.started", msg: "db started", time: 0, pid: 2654 });
    assert.deepEqual(log.mock.calls.map((call) => call.arguments[0]), [
      "00:00:00.000 info  part.started   db started",
      "00:00:00.000 info  [2654] part.started   db started",
    ]);
  });

  it("PartsTheEntryStartsWhileImportedLogInTheAskedFormat", async (t) => {
    // A part added at the entry's top level starts (and says so) during the import, before any
    // server has a logger: the command's --log-format must already apply then.
    const printed = (format: string) => {
      const { lifecycle } = fakeWorld();
      const importEntry = async () => {
        lifecycle.add({ name: "db", start: () => {} });
        await settleTurns();
        return { default: app };
      };
      const log = t.mock.method(console, "log", () => {});
      const f = fake({ parsed: { values: { "log-format": format }, positionals: [] }, lifecycle, importEntry });
      return runCommand(f.rt).then((outcome) => {
        assert.equal(outcome, "serving");
        const lines = log.mock.calls.map((call) => String(call.arguments[0]));
        log.mock.restore();
        return lines.filter((line) => line.includes("part.started"));
      });
    };
    const text = await printed("text");
    assert.equal(text.length, 1, text.join("\n"));
    assert.match(text[0]!, /^\d\d:\d\d:\d\d\.\d{3} info +part\.started /);
    assert.deepEqual(await printed("silent"), []);
    assert.equal(JSON.parse((await printed("json"))[0]!).event, "part.started");
  });

  it("PartsTheEntryAddsWhileImportedNeverStartInAPrimaryOfWorkersNorForCheck", async () => {
    // Started here they would run in a process that serves nothing: each worker runs them.
    const startsFor = async (values: Record<string, string | boolean>, vars: Record<string, string> = {}) => {
      const { lifecycle } = fakeWorld();
      lifecycle.logBeforeServers(false);
      const started: string[] = [];
      const importEntry = async () => {
        lifecycle.add({ name: "db", start: () => void started.push("db") });
        await settleTurns();
        return { default: app };
      };
      const f = fake({ parsed: { values, positionals: [] }, env: envOf(vars), lifecycle, importEntry });
      f.rt.out = () => {}; // --check's text
      await runCommand(f.rt);
      await settleTurns();
      return started;
    };
    assert.deepEqual(await startsFor({}), ["db"], "one process: the part starts as it is added");
    assert.deepEqual(await startsFor({ workers: "2" }), []);
    assert.deepEqual(await startsFor({}, { WEB_CONCURRENCY: "3" }), []);
    assert.deepEqual(await startsFor({ workers: "auto" }), [], "auto comes to 3 CPUs here");
    assert.deepEqual(await startsFor({ check: true }), []);
    assert.deepEqual(await startsFor({ workers: "1" }), ["db"]);
    assert.deepEqual(await startsFor({ workers: "2" }, { SERVE_GRACEFULLY_WORKER: "0" }), ["db"], "a worker runs its parts");
  });

  it("ALifecycleHookRunsBeforeTheServerAndItsThrowIsTheEntrys", async () => {
    const order: string[] = [];
    const ok = fake({ importEntry: async () => ({ default: app, lifecycle: () => order.push("hook") }) });
    ok.rt.serveGracefully = () => (order.push("serve"), {} as ReturnType<CommandRuntime["serveGracefully"]>);
    await runCommand(ok.rt);
    assert.deepEqual(order, ["hook", "serve"]);
    const bad = fake({
      importEntry: async () => ({ default: app, lifecycle: () => Promise.reject(new Error("no db")) }),
      // The command's own frames are the runtime's to take out (cli-main.ts knows where they are).
      entryThrown: (thrown) => Object.assign(thrown as Error, { stack: "Error: no db\n    at lifecycle (src/index.ts:3:9)" }),
    });
    assert.equal(await runCommand(bad.rt), 1);
    assert.match(bad.err[0]!, /src\/index\.ts's lifecycle\(lc\) threw: no db/);
    assert.equal(bad.err[1], "Error: no db\n    at lifecycle (src/index.ts:3:9)", "the stack as the runtime trimmed it");
    assert.equal(bad.served.length, 0);
  });
});

describe("the entry's file URL (adapters/cli-main.ts)", () => {
  it("APathIsTheFileItNamesWhateverItsCharacters", () => {
    // "%", "#" and "?" are URL syntax, and legal in a file name: `100%.mjs` was "URI malformed",
    // `a#b.mjs` and `q?x.mjs` "not found", and every entry under a folder with "%" in its name failed.
    const cases: [file: string, cwd: string, path: string][] = [
      ["100%.mjs", "/srv/app", "/srv/app/100%.mjs"],
      ["50%20off.mjs", "/srv/app", "/srv/app/50%20off.mjs"],
      ["a#b.mjs", "/srv/app", "/srv/app/a#b.mjs"],
      ["q?x.mjs", "/srv/app", "/srv/app/q?x.mjs"],
      ["app.mjs", "/tmp/build%zz", "/tmp/build%zz/app.mjs"],
      ["app.mjs", "/tmp/build%41/", "/tmp/build%41/app.mjs"],
      ["src/index.ts", "/srv/c#d", "/srv/c#d/src/index.ts"],
      ["dir with space/ünï.mjs", "/srv", "/srv/dir with space/ünï.mjs"],
      ["back\\slash.mjs", "/srv", "/srv/back\\slash.mjs"],
      ["../x/./app.mjs", "/srv/app", "/srv/x/app.mjs"],
      ["/abs/100%.mjs", "/srv/app", "/abs/100%.mjs"],
      ["./", "/srv/50%", "/srv/50%/"],
    ];
    for (const [file, cwd, path] of cases) {
      const url = fileUrl(file, cwd);
      assert.equal(urlPath(url), path, `${file} in ${cwd}`);
      assert.equal(fileURLToPath(url), path, `${file} in ${cwd}: node:url reads the same path`);
    }
  });

  it("OnWindowsABackslashSeparates", () => {
    assert.equal(urlPath(fileUrl("src\\index.ts", "C:\\app")), "/C:/app/src/index.ts");
    assert.equal(urlPath(fileUrl("D:\\other\\app.ts", "C:\\app")), "/D:/other/app.ts");
  });
});
