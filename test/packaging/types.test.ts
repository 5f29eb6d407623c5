/**
 * The published declarations, as a user's editor and tsc see them. dist/*.d.ts: one readable file
 * per entry (no hashed chunk with one-letter aliases), nothing internal, `Lifecycle` a type and
 * not a value. And real tsc in a consumer project, under each moduleResolution a user may have:
 * the root import gives Node's options unless the "bun" condition is set (customConditions),
 * `serve-gracefully/bun` gives Bun's everywhere.
 *
 * Needs a current build (`npm run build`); `npm test` builds first.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { bin, requireFile, ROOT, run } from "./tools.ts";

const DIST = path.join(ROOT, "dist");
const declarations = () => readdirSync(DIST).filter((f) => /\.d\.c?ts$/.test(f));

describe("the published declarations", () => {
  before(() => requireFile(path.join(DIST, "node.d.ts"), "run npm run build"));

  it("AreOneReadableFilePerEntry", () => {
    assert.deepEqual(declarations().sort(), ["bun.d.cts", "bun.d.ts", "deno.d.cts", "deno.d.ts", "node.d.cts", "node.d.ts"]);
    for (const file of declarations()) {
      const text = readFileSync(path.join(DIST, file), "utf8");
      assert.doesNotMatch(text, /from ["']\.\//, `${file} imports a shared chunk`);
      // A bundled chunk re-exports its names as one-letter aliases (`Lifecycle as L`).
      assert.doesNotMatch(text, /\bas [A-Za-z]\b/, `${file} exports one-letter aliases`);
    }
  });

  it("NameNothingInternal", () => {
    const internal = [
      /\baddServer\b/,
      /\bTaskTracker\b/,
      /\breadonly tasks\b/,
      /\blog: Log\b/,
      /\bclock\??:/,
      /\bruntime\??:/,
      /\bServerLifecycle\b/,
      /\bLifecycleSetup\b/,
      /\bLifecycleController\b/,
      /\bRuntimeAdapter\b/,
      /\bRuntimeBinding\b/,
    ];
    for (const file of declarations()) {
      const text = readFileSync(path.join(DIST, file), "utf8");
      const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      for (const name of internal) assert.doesNotMatch(code, name, `${file} names an internal: ${name}`);
      assert.match(text, /\btype LifecycleState\b/, `${file} does not export LifecycleState`);
      assert.match(text, /interface Lifecycle \{/, `${file}: Lifecycle is not an interface`);
      assert.match(text, /@example/, `${file}: serveGracefully has no @example`);
    }
  });

  it("ExportNoLifecycleValue", async () => {
    for (const file of ["node.js", "bun.js", "deno.js"]) {
      const exported = await import(pathToFileURL(path.join(DIST, file)).href);
      assert.equal("Lifecycle" in exported, false, `${file} exports a Lifecycle value`);
      assert.equal(typeof exported.serveGracefully, "function");
    }
  });
});

/** The consumer's files: what each must give under tsc (error codes, [] for none). */
const ROOT_BUN_OPTION = `import { Hono } from "hono";
import { serveGracefully } from "serve-gracefully";
serveGracefully(new Hono(), { idleTimeout: 30 });
`;
const SUBPATH_BUN_OPTION = `import { Hono } from "hono";
import { serveGracefully } from "serve-gracefully/bun";
serveGracefully(new Hono(), { idleTimeout: 30 });
`;
// What every user writes: must type-check everywhere, so the failures above are not vacuous.
const CONTROL = `import { Hono } from "hono";
import { createLifecycle, lifecycle, serveGracefully, type Lifecycle, type LifecycleState, type ShutdownReport } from "serve-gracefully";
const mine: Lifecycle = createLifecycle({ fatalErrors: false });
const state: LifecycleState = lifecycle.state;
const server = serveGracefully(new Hono(), { port: 0, timeout: 10_000, lifecycle: mine });
const report: Promise<ShutdownReport> = server.finished;
export { report, state };
`;
const LIFECYCLE_AS_VALUE = `import { Lifecycle } from "serve-gracefully";
export const made = new Lifecycle();
`;
const INTERNALS = `import { createLifecycle, lifecycle } from "serve-gracefully";
export const tasks = lifecycle.tasks;
export const join = lifecycle.addServer;
export const clocked = createLifecycle({ clock: undefined });
`;

// Deno's own options through the root import: deno check must pick the Deno types.
const DENO_OPTIONS = `import { serveGracefully } from "serve-gracefully";
serveGracefully({ fetch: () => new Response("hi") }, { reusePort: true, cert: "", key: "" });
`;

const MODES = {
  node16: { module: "node16", moduleResolution: "node16" },
  nodenext: { module: "nodenext", moduleResolution: "nodenext" },
  bundler: { module: "esnext", moduleResolution: "bundler" },
  "bundler+bun": { module: "esnext", moduleResolution: "bundler", customConditions: ["bun"] },
} as const;

describe("tsc in a consumer project", { concurrency: true, timeout: 120_000 }, () => {
  let project = "";
  before(() => {
    requireFile(path.join(DIST, "node.d.ts"), "run npm run build");
    project = mkdtempSync(path.join(os.tmpdir(), "sg-types-"));
    // The package as npm would install it (a link to this repository: its package.json and dist/).
    mkdirSync(path.join(project, "node_modules"));
    symlinkSync(ROOT, path.join(project, "node_modules", "serve-gracefully"), "dir");
    symlinkSync(path.join(ROOT, "node_modules", "hono"), path.join(project, "node_modules", "hono"), "dir");
    writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { hono: "*", "serve-gracefully": "*" } }),
    );
    const files = {
      "deno-options.ts": DENO_OPTIONS,
      "root-bun-option.ts": ROOT_BUN_OPTION,
      "subpath-bun-option.ts": SUBPATH_BUN_OPTION,
      "control.ts": CONTROL,
      "lifecycle-as-value.ts": LIFECYCLE_AS_VALUE,
      "internals.ts": INTERNALS,
    };
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(project, file), text);
  });
  after(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("deno check takes the Deno types through the root import", async () => {
    const deno = requireFile(bin("deno"));
    const good = await run(deno, ["check", "--no-lock", "--quiet", "deno-options.ts"], { cwd: project, timeoutMs: 60_000 });
    assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
    const bad = await run(deno, ["check", "--no-lock", "--quiet", "root-bun-option.ts"], { cwd: project, timeoutMs: 60_000 });
    assert.notEqual(bad.code, 0, "deno check accepted a Bun-only option");
    assert.match(bad.stdout + bad.stderr, /TS2353|idleTimeout/);
  });

  for (const [mode, options] of Object.entries(MODES)) {
    it(`checks as expected under ${mode}`, async () => {
      const config = `tsconfig.${mode}.json`;
      writeFileSync(
        path.join(project, config),
        JSON.stringify({
          // skipLibCheck off: our own .d.ts must check too, with no @types/node in sight.
          compilerOptions: {
            ...options,
            target: "es2022",
            lib: ["es2022", "dom"],
            strict: true,
            noEmit: true,
            types: [],
            skipLibCheck: false,
          },
          include: ["*.ts"],
        }),
      );
      const r = await run(requireFile(bin("tsc")), ["-p", config, "--pretty", "false"], { cwd: project, timeoutMs: 60_000 });
      const errors: Record<string, string[]> = {};
      for (const [, file, code] of r.stdout.matchAll(/^([\w.-]+\.ts)\(\d+,\d+\): error (TS\d+)/gm)) (errors[file!] ??= []).push(code!);
      const bunTypes = mode === "bundler+bun";
      assert.deepEqual(errors["control.ts"], undefined, r.stdout);
      assert.deepEqual(errors["subpath-bun-option.ts"], undefined, r.stdout);
      // Excess property: idleTimeout is Bun's; the root import is Node's unless the bun condition is on.
      assert.deepEqual(errors["root-bun-option.ts"], bunTypes ? undefined : ["TS2353"], r.stdout);
      // "only refers to a type, but is being used as a value here"
      assert.deepEqual(errors["lifecycle-as-value.ts"], ["TS2693"], r.stdout);
      // no property tasks / addServer; no option clock
      assert.deepEqual(errors["internals.ts"], ["TS2339", "TS2339", "TS2353"], r.stdout);
      // Deno's options are Deno's only: every tsc mode here rejects them.
      assert.deepEqual(errors["deno-options.ts"], ["TS2353"], r.stdout);
      const expected = ["deno-options.ts", "internals.ts", "lifecycle-as-value.ts", ...(bunTypes ? [] : ["root-bun-option.ts"])];
      assert.deepEqual(Object.keys(errors).sort(), expected, r.stdout);
    });
  }
});
