// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * The npm tarball, as users get it: packed from the built dist/, linted by publint and
 * arethetypeswrong, installed into a fresh project, and imported on Node (ESM and require, every
 * supported major), Bun and Deno. Each runtime must load its own adapter through the export
 * conditions, serve one request and shut down.
 *
 * Needs a current build (`npm run build`); `npm test` builds first.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { spawn } from "node:child_process";
import { execCommand, instructions } from "./dockerfile.ts";
import { bin, EXTRA_NODE_MAJORS, nodeBinary, readJson, requireFile, ROOT, run, said } from "./tools.ts";

const pkg = readJson("package.json");
let tmp = "";
let tarball = "";
let packed: string[] = [];

/** Newest modification time of the .ts files under a folder of the repository. */
function newestSource(folder: string): number {
  const dir = path.join(ROOT, folder);
  return Math.max(
    ...readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => statSync(path.join(dir, f)).mtimeMs),
  );
}

before(async () => {
  // Packing a stale or missing dist/ would test yesterday's code: say so instead.
  const entries = ["node", "bun", "deno"].flatMap((name) => [`dist/${name}.js`, `dist/${name}.cjs`]);
  for (const file of entries) requireFile(path.join(ROOT, file), "run npm run build");
  const built = Math.min(...entries.map((file) => statSync(path.join(ROOT, file)).mtimeMs));
  const source = Math.max(newestSource("src"), newestSource("adapters"));
  assert.ok(built >= source, "dist/ is older than src/ or adapters/: run npm run build");

  tmp = mkdtempSync(path.join(os.tmpdir(), "sg-pack-"));
  // --ignore-scripts: pack exactly what is built, whatever a prepack script would do.
  const r = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp]);
  assert.equal(r.code, 0, said("npm pack", r));
  const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(tmp, info!.filename);
  packed = info!.files.map((f) => f.path).sort();
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("the npm tarball", { concurrency: true }, () => {
  it("HoldsOnlyDistTheDocsReadmeChangelogLicenseAndPackageJson", () => {
    const top = ["README.md", "CHANGELOG.md", "LICENSE", "package.json"];
    const stray = packed.filter((f) => !f.startsWith("dist/") && !/^docs\/[\w-]+\.md$/.test(f) && !top.includes(f));
    assert.deepEqual(stray, [], "files that users do not need are in the tarball");
    for (const file of top) assert.ok(packed.includes(file), `${file} is missing`);
    // Every page the README links to is in the package, so its links work where it is read.
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const linked = [...readme.matchAll(/\]\((docs\/[\w-]+\.md)/g)].map((m) => m[1]!);
    assert.ok(linked.length > 5, "the README links to the docs");
    for (const file of linked) assert.ok(packed.includes(file), `${file} (linked from the README) is not packed`);
    assert.ok(!packed.some((f) => /\.(test|spec)\.|\.map$/.test(f)), "tests or source maps in dist/");
  });

  it("HoldsEveryFileTheExportsMapNames", () => {
    const targets = new Set<string>();
    const walk = (value: unknown): void => {
      if (typeof value === "string") targets.add(value.replace(/^\.\//, ""));
      else if (value && typeof value === "object") Object.values(value).forEach(walk);
    };
    walk(pkg.exports);
    for (const field of ["main", "module", "types"]) walk(pkg[field]);
    const missing = [...targets].filter((t) => !packed.includes(t));
    assert.deepEqual(missing, [], "the exports map names files the tarball lacks");
  });

  it("HoldsTheBinWithItsShebang", () => {
    assert.deepEqual(pkg.bin, { "serve-gracefully": "./dist/cli.js" });
    assert.ok(packed.includes("dist/cli.js"), "the bin is not in the tarball");
    assert.match(readFileSync(path.join(ROOT, "dist/cli.js"), "utf8"), /^#!\/usr\/bin\/env node\n/);
  });

  it("MarksEveryEsmFileForBunToRunAsItIs", () => {
    // `// @bun` first (after the bin's shebang): Bun skips its transpiler for the file, whose output
    // it caches only for files over 50 KB (docs/cli.md#cold-start). CommonJS files must not say it:
    // Bun then runs them unwrapped (`module is not defined`, checked on 1.4.5).
    const esm = packed.filter((f) => f.endsWith(".js"));
    assert.ok(esm.length >= 4, `too few ESM files packed: ${esm.join(", ")}`);
    for (const file of esm) {
      assert.match(readFileSync(path.join(ROOT, file), "utf8"), /^(#![^\n]*\n)?\/\/ @bun\n/, `${file} does not begin with // @bun`);
    }
    // The one exception, dist/cli-bun.cjs, is wrapped by Bun itself (`@bun-cjs`), and Bun reads its
    // bytecode only with that first line.
    for (const file of packed.filter((f) => f.endsWith(".cjs"))) {
      const text = readFileSync(path.join(ROOT, file), "utf8");
      if (file === "dist/cli-bun.cjs") {
        assert.ok(text.startsWith("// @bun @bytecode @bun-cjs\n(function(exports, require, module, __filename, __dirname) {"), file);
      } else {
        assert.doesNotMatch(text, /^(#![^\n]*\n)?\/\/ @bun/, `${file} says // @bun`);
      }
    }
  });

  it("HoldsTheBunCommandWithItsBytecode", () => {
    for (const file of ["dist/cli-bun.cjs", "dist/cli-bun.cjs.jsc"]) assert.ok(packed.includes(file), `${file} is not in the tarball`);
  });

  it("PublintFindsNothing", async () => {
    // --strict: warnings fail too.
    const r = await run(requireFile(bin("publint")), ["--strict", tarball]);
    assert.equal(r.code, 0, said("publint", r));
  });

  it("AreTheTypesWrongFindsNothing", async () => {
    // node10 (TypeScript's moduleResolution "node") resolves the ./node, ./bun and ./deno
    // subpaths only through "typesVersions"; with it in package.json the strict profile holds.
    const profile = pkg.typesVersions ? "strict" : "node16";
    const r = await run(requireFile(bin("attw")), [tarball, "--profile", profile, "--format", "ascii", "--no-emoji"]);
    assert.equal(r.code, 0, said(`attw --profile ${profile}`, r));
  });
});

/** The lowest version a caret or >= range admits (`^4.6.7` and `>=4.6.7` give 4.6.7). */
function floorOf(range: string): string {
  const match = /^(?:\^|>=\s*)(\d+\.\d+\.\d+)$/.exec(range.trim());
  assert.ok(match, `peerDependencies.hono is "${range}": expected ^X.Y.Z or >=X.Y.Z`);
  return match[1]!;
}

// npm installs the oldest Hono the peer range admits without a word (a lock file that holds it):
// the Node adapter's @hono/node-server imports from hono itself (`hono/ws`'s defineWebSocketHelper,
// added in Hono 4.6.7), so with 4.6.0-4.6.6 Node could not serve at all. Bun and Deno never load it.
describe("the installed tarball with the oldest hono the peer range admits", () => {
  let project = "";

  before(async () => {
    project = path.join(tmp, "oldest-hono");
    mkdirSync(project);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "0.0.0" }));
    copyFileSync(path.join(ROOT, "test/packaging/consumer/app.mjs"), path.join(project, "app.mjs"));
    const hono = floorOf(pkg.peerDependencies.hono);
    const r = await run(
      "npm",
      ["install", tarball, `hono@${hono}`, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
      { cwd: project, timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, said(`npm install <tarball> hono@${hono}`, r));
  });

  it("NodeServesWithTheOldestHonoThePeerRangeAdmits", async () => {
    const r = await run(process.execPath, ["app.mjs"], { cwd: project, timeoutMs: 20_000 });
    assert.equal(r.code, 0, said("node app.mjs", r));
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.equal(result.status, 200);
    assert.equal(result.body, "node");
    assert.equal(result.exitCode, 0);
  });

  it("NodeSaysWhichPackageDidNotLoadWhenHonoIsMissing", async () => {
    // A plain fetch handler needs no hono of its own, but @hono/node-server does.
    const file = path.join(project, "plain.mjs");
    writeFileSync(
      file,
      `import { serveGracefully } from "serve-gracefully";
const server = serveGracefully({ fetch: () => new Response("ok") }, { port: 0, hostname: "127.0.0.1", logger: false });
await server.ready.then(() => console.log("listening"), (error) => console.log(error.message));
await server.shutdown();
`,
    );
    rmSync(path.join(project, "node_modules/hono"), { recursive: true, force: true });
    const r = await run(process.execPath, [file], { cwd: project, timeoutMs: 20_000 });
    assert.match(
      r.stdout,
      /@hono\/node-server, which serves on Node, did not load \(it needs hono, .*\): .*'hono'/,
      said("node plain.mjs", r),
    );
  });
});

describe("the installed tarball", { concurrency: true }, () => {
  let project = "";

  before(async () => {
    // A fresh project, as a user makes it: the tarball, plus hono at the version this repository
    // uses (so npm finds it in its cache; the registry is asked only for what the cache lacks).
    project = path.join(tmp, "project");
    mkdirSync(project);
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "0.0.0" }));
    for (const file of ["app.mjs", "app.cjs"]) copyFileSync(path.join(ROOT, "test/packaging/consumer", file), path.join(project, file));
    copyFileSync(path.join(ROOT, "examples/deploy/server.mjs"), path.join(project, "server.mjs"));
    const hono = readJson("node_modules/hono/package.json").version as string;
    const r = await run(
      "npm",
      ["install", tarball, `hono@${hono}`, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
      { cwd: project, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, said("npm install <tarball>", r));
  });

  /** Run a consumer program and check that it loaded `adapter` and served through it. */
  async function consume(command: string, args: string[], adapter: "node" | "bun" | "deno", file: string): Promise<void> {
    const r = await run(command, args, { cwd: project, timeoutMs: 20_000 });
    assert.equal(r.code, 0, said(`${path.basename(command)} ${args.join(" ")}`, r));
    const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    assert.ok(
      String(result.resolved).endsWith(`node_modules/serve-gracefully/dist/${file}`),
      `"serve-gracefully" resolved to ${result.resolved}, expected dist/${file}`,
    );
    assert.equal(result.status, 200);
    assert.equal(result.body, adapter, `the request was served by the ${result.body} adapter`);
    assert.equal(result.exitCode, 0);
    assert.equal(result.forced, false);
  }

  it("NodeImportsTheNodeAdapter", () => consume(process.execPath, ["app.mjs"], "node", "node.js"));
  it("NodeRequiresTheNodeAdapter", () => consume(process.execPath, ["app.cjs"], "node", "node.cjs"));
  for (const major of EXTRA_NODE_MAJORS) {
    it(`Node${major}ImportsAndRequiresTheNodeAdapter`, async (t) => {
      const node = nodeBinary(major);
      if (!existsSync(node)) return t.skip(`node${major} is not installed (npm install)`);
      await consume(node, ["app.mjs"], "node", "node.js");
      await consume(node, ["app.cjs"], "node", "node.cjs");
    });
  }
  it("BunImportsTheBunAdapter", () => consume(requireFile(bin("bun")), ["app.mjs"], "bun", "bun.js"));
  it("BunRequiresTheBunAdapter", () => consume(requireFile(bin("bun")), ["app.cjs"], "bun", "bun.cjs"));
  it("DenoImportsTheDenoAdapter", () =>
    // The project's package.json and node_modules make Deno resolve npm packages from there.
    consume(requireFile(bin("deno")), ["run", "-A", "--no-lock", "--quiet", "app.mjs"], "deno", "deno.js"));

  // The bin as npm installs it: node_modules/.bin/serve-gracefully, run through its shebang and by
  // each runtime itself (`bun <bin>` runs in Bun, `deno run npm:serve-gracefully` in Deno).
  const versionOf = (r: { stdout: string }) => r.stdout.trim().split("\n");
  it("TheBinRunsThroughItsShebang", async () => {
    const r = await run(path.join(project, "node_modules/.bin/serve-gracefully"), ["--version"], { cwd: project });
    assert.equal(r.code, 0, said("node_modules/.bin/serve-gracefully --version", r));
    assert.deepEqual(versionOf(r), [
      `serve-gracefully ${pkg.version}`,
      `node ${process.versions.node}`,
      `hono ${readJson("node_modules/hono/package.json").version}`,
    ]);
  });
  it("BunRunsTheBinItself", async () => {
    const r = await run(requireFile(bin("bun")), ["node_modules/.bin/serve-gracefully", "--version"], { cwd: project });
    assert.equal(r.code, 0, said("bun node_modules/.bin/serve-gracefully --version", r));
    assert.match(versionOf(r)[1]!, /^bun \d/, "Bun ran the bin itself, not Node through the shebang");
  });
  // The command on Bun runs from bytecode (adapters/cli.ts, dist/cli-bun.cjs.jsc): Bun says whether
  // it used it when BUN_JSC_verboseDiskCache is set.
  const bytecodeHits = (r: { stderr: string; stdout: string }) =>
    (`${r.stdout}\n${r.stderr}`.match(/\[Disk Cache\] Cache hit/g) ?? []).length;
  it("BunRunsTheBinFromItsBytecode", async () => {
    const r = await run(requireFile(bin("bun")), ["node_modules/.bin/serve-gracefully", "--version"], {
      cwd: project,
      env: { BUN_JSC_verboseDiskCache: "1" },
    });
    assert.equal(r.code, 0, said("bun node_modules/.bin/serve-gracefully --version", r));
    assert.equal(bytecodeHits(r), 1, said("Bun did not use dist/cli-bun.cjs.jsc", r));
  });
  it("BunRunsTheBinWhenItsBytecodeDoesNotFit", async () => {
    // What a Bun of another version than the build's meets: bytecode it cannot use. It must parse
    // the file instead (Bun's rule), and the command still works.
    const dist = path.join(tmp, "dist-with-foreign-bytecode");
    cpSync(path.join(project, "node_modules/serve-gracefully/dist"), dist, { recursive: true });
    writeFileSync(path.join(dist, "cli-bun.cjs.jsc"), Buffer.alloc(4096, 7));
    const r = await run(requireFile(bin("bun")), [path.join(dist, "cli.js"), "--version"], {
      cwd: project,
      env: { BUN_JSC_verboseDiskCache: "1" },
    });
    assert.equal(r.code, 0, said("bun dist/cli.js --version, with foreign bytecode", r));
    assert.match(versionOf(r)[0]!, /^serve-gracefully /);
    assert.equal(bytecodeHits(r), 0, "Bun used bytecode that is not its own");
  });
  it("DenoRunsTheNpmCommand", async () => {
    const r = await run(requireFile(bin("deno")), ["run", "-A", "--no-lock", "npm:serve-gracefully", "--version"], { cwd: project });
    assert.equal(r.code, 0, said("deno run -A npm:serve-gracefully --version", r));
    assert.match(versionOf(r)[1]!, /^deno \d/);
  });

  // The deploy example, started exactly as its Dockerfile starts it, drains on SIGTERM.
  for (const runtime of ["node", "bun", "deno"] as const) {
    it(`DeployExampleDrainsOnSigtermOn${runtime[0]!.toUpperCase()}${runtime.slice(1)}`, async () => {
      const [command, ...args] = execCommand(instructions(readFileSync(path.join(ROOT, `examples/deploy/Dockerfile.${runtime}`), "utf8")));
      const executable = command === "node" ? process.execPath : requireFile(bin(command!));
      const child = spawn(executable, args, {
        cwd: project,
        env: { ...process.env, PORT: "0", DRAIN_DELAY_MS: "200", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const events: Record<string, any>[] = [];
      let output = "";
      const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
      const listening = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "listening" line in 10 s:\n${output}`)), 10_000);
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          output += chunk;
          for (const line of chunk.split("\n").filter(Boolean)) {
            try {
              events.push(JSON.parse(line));
            } catch {
              continue;
            }
            const last = events.at(-1)!;
            if (last.event === "listening") {
              clearTimeout(timer);
              resolve(last.port);
            }
          }
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      });
      try {
        const port = await listening;
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(ready.status, 200);
        await ready.arrayBuffer();
        child.kill("SIGTERM");
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 10_000))]);
        assert.equal(code, 0, `exit ${code}\n${output}`);
        const end = events.find((e) => e.event === "drain.end");
        assert.equal(end?.signal, "SIGTERM", output);
        assert.ok(end.drainDelayMs >= 150, `drain delay ${end.drainDelayMs} ms, DRAIN_DELAY_MS was 200`);
      } finally {
        child.kill("SIGKILL");
      }
    });
  }
});
