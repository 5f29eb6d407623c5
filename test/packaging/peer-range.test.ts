/**
 * The oldest Hono the peer range admits, with the packed tarball: a user whose lock file holds it
 * (npm says nothing: the range is satisfied) must get a server on Node, whose adapter loads
 * @hono/node-server, which imports from hono itself (`hono/ws`'s defineWebSocketHelper, added in
 * Hono 4.6.7). Bun and Deno never load @hono/node-server.
 *
 * Needs a current build (`npm run build`) and the npm registry (or its cache) for that Hono.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { readJson, requireFile, ROOT, run, said } from "./tools.ts";

let tmp = "";
let project = "";

/** The lowest version a caret or >= range admits (`^4.6.7` and `>=4.6.7` give 4.6.7). */
function floor(range: string): string {
  const match = /^(?:\^|>=\s*)(\d+\.\d+\.\d+)$/.exec(range.trim());
  assert.ok(match, `peerDependencies.hono is "${range}": expected ^X.Y.Z or >=X.Y.Z`);
  return match[1]!;
}

before(async () => {
  requireFile(path.join(ROOT, "dist/node.js"), "run npm run build");
  tmp = mkdtempSync(path.join(os.tmpdir(), "sg-peer-"));
  const packed = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp]);
  assert.equal(packed.code, 0, said("npm pack", packed));
  const tarball = path.join(tmp, JSON.parse(packed.stdout)[0].filename);
  project = path.join(tmp, "project");
  mkdirSync(project);
  writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "0.0.0" }));
  copyFileSync(path.join(ROOT, "test/packaging/consumer/app.mjs"), path.join(project, "app.mjs"));
  const hono = floor(readJson("package.json").peerDependencies.hono);
  const r = await run(
    "npm",
    ["install", tarball, `hono@${hono}`, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
    { cwd: project, timeoutMs: 120_000 },
  );
  assert.equal(r.code, 0, said(`npm install <tarball> hono@${hono}`, r));
});

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

it("NodeServesWithTheOldestHonoThePeerRangeAdmits", async () => {
  const r = await run(process.execPath, ["app.mjs"], { cwd: project, timeoutMs: 20_000 });
  assert.equal(r.code, 0, said("node app.mjs", r));
  const result = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(result.status, 200);
  assert.equal(result.body, "node");
  assert.equal(result.exitCode, 0);
});
