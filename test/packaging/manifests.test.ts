/**
 * package.json (npm) and deno.json (JSR) describe one package: same version, same entry points,
 * a license, and each registry's root entry is the right adapter.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { readJson, ROOT } from "./tools.ts";
import { PACKAGE_VERSION } from "../../src/cli/version.ts";

const pkg = readJson("package.json");
const deno = readJson("deno.json");
const ENTRY_POINTS = [".", "./node", "./bun", "./deno"];

it("NpmAndJsrHaveTheSameVersion", () => {
  assert.match(pkg.version, /^\d+\.\d+\.\d+(-[\w.]+)?$/);
  assert.equal(deno.version, pkg.version, "bump package.json and deno.json together");
  assert.equal(PACKAGE_VERSION, pkg.version, "bump src/cli/version.ts (what --version prints) too");
});

it("TheVersionIsTheChangelogsNewestAndTheLockFilesRoot", () => {
  // The newest CHANGELOG section describes what this tree is (released or not): one version everywhere.
  const newest = readFileSync(path.join(ROOT, "CHANGELOG.md"), "utf8").match(/^## (\S+) /m)?.[1];
  assert.equal(newest, pkg.version, "package.json's version is the newest CHANGELOG section");
  const lock = readJson("package-lock.json");
  assert.equal(lock.version, pkg.version, "package-lock.json's root version");
  assert.equal(lock.packages[""].version, pkg.version, "package-lock.json's root package version");
  // The deploy example installs this version (a ^0.1.0 range would never reach 0.2.0).
  const deploy = readJson("examples/deploy/package.json");
  assert.equal(deploy.dependencies["serve-gracefully"], `^${pkg.version}`, "examples/deploy/package.json");
});

it("NpmAndJsrExportTheSameEntryPoints", () => {
  const npmKeys = Object.keys(pkg.exports).filter((key) => key !== "./package.json").sort();
  assert.deepEqual(npmKeys, [...ENTRY_POINTS].sort());
  // The command: npm's bin, JSR's ./cli export (deno run -A jsr:@gracefully/serve/cli), one source.
  assert.deepEqual(Object.keys(deno.exports).sort(), [...ENTRY_POINTS, "./cli"].sort());
  assert.equal(deno.exports["./cli"], "./adapters/cli.ts");
  assert.deepEqual(pkg.bin, { "serve-gracefully": "./dist/cli.js" });
});

it("JsrHasItsNameAndALicense", () => {
  assert.equal(deno.name, "@gracefully/serve");
  assert.equal(pkg.name, "serve-gracefully");
  assert.equal(deno.license, pkg.license);
  assert.ok(pkg.license, "no license in package.json");
  assert.ok(existsSync(path.join(ROOT, "LICENSE")), "no LICENSE file");
});

it("JsrRootIsTheDenoAdapterAndEverySubpathItsOwn", () => {
  // jsr:@gracefully/serve is imported from Deno, so its root is the Deno adapter.
  assert.equal(deno.exports["."], "./adapters/deno.ts");
  for (const name of ["node", "bun", "deno"]) {
    assert.equal(deno.exports[`./${name}`], `./adapters/${name}.ts`);
    assert.ok(existsSync(path.join(ROOT, "adapters", `${name}.ts`)));
  }
});

it("NpmRootPicksTheAdapterByExportCondition", () => {
  const root = pkg.exports["."];
  // Conditions are matched in key order: the runtime-specific ones must come before "node"/"default",
  // since Bun and Deno also match "node".
  assert.deepEqual(Object.keys(root), ["bun", "deno", "node", "default"]);
  for (const [condition, adapter] of [["bun", "bun"], ["deno", "deno"], ["node", "node"], ["default", "node"]]) {
    assert.deepEqual(root[condition!], pkg.exports[`./${adapter}`], `"." under "${condition}" is not the ${adapter} adapter`);
  }
  for (const name of ["node", "bun", "deno"]) {
    const entry = pkg.exports[`./${name}`];
    assert.deepEqual(Object.keys(entry), ["import", "require"]);
    // "types" first in each branch, as TypeScript requires.
    assert.deepEqual(entry.import, { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` });
    assert.deepEqual(entry.require, { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` });
  }
});

it("NpmPublishesOnlyBuiltFilesAndStatesTheTestedRuntimes", () => {
  // The built code, and the pages the README links to (tarball.test.ts checks each is packed).
  assert.deepEqual([...pkg.files].sort(), ["CHANGELOG.md", "LICENSE", "README.md", "dist", "docs/*.md"]);
  assert.notEqual(pkg.private, true);
  // The floor is the oldest Node the runtime matrix tests (this machine's Node 20).
  assert.equal(pkg.engines?.node, ">=20");
  assert.ok(pkg.peerDependencies?.hono, "hono is a peer dependency");
});
