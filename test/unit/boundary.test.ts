/** The core stays runtime-agnostic: no adapter, no node:*, Bun or Deno in src/. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

it("CoreImportsNoRuntimeApiAndNoAdapter", () => {
  const files = readdirSync(src).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length > 5);
  for (const file of files) {
    const code = readFileSync(path.join(src, file), "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    assert.doesNotMatch(code, /from\s+["'](node:|bun|deno|@hono\/node-server)/, `${file} imports a runtime module`);
    assert.doesNotMatch(code, /\b(Bun|Deno|process)\.\w/, `${file} uses a runtime global`);
    assert.doesNotMatch(code, /from\s+["']\.\.\/adapters/, `${file} imports an adapter`);
    assert.doesNotMatch(code, /from\s+["'][^"']*(?<!\.ts)["']/, `${file} has an import without an explicit .ts extension (JSR)`);
  }
});
