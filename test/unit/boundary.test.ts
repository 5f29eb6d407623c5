/**
 * The core's boundaries: src/ imports no runtime and no adapter, its folders depend one way, and
 * no file imports itself back through a circle.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");
/** The barrels: what adapters import (core.ts) and what users get (exports.ts). Nothing imports them back. */
const BARRELS = new Set(["core.ts", "exports.ts"]);

/** Every .ts file under src/, as a path relative to src/ with forward slashes. */
function sourceFiles(): string[] {
  return readdirSync(src, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.split(path.sep).join("/"));
}

function withoutComments(code: string): string {
  return code.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
}

/** The src/ files a file imports (relative specifiers only), as paths relative to src/. */
function importsOf(file: string): string[] {
  const code = withoutComments(readFileSync(path.join(src, file), "utf8"));
  const specifiers = [...code.matchAll(/(?:from|import)\s*\(?\s*["'](\.\.?\/[^"']+)["']/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)));
}

/** The folder a file lives in; files at the root of src/ are their own unit. */
function folderOf(file: string): string {
  return file.includes("/") ? file.slice(0, file.indexOf("/")) : file;
}

/** One cycle in a graph, as the list of its nodes, or undefined. */
function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const at = stack.indexOf(node);
    if (at >= 0) return [...stack.slice(at), node];
    if (done.has(node)) return undefined;
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("src/ boundaries", () => {
  const files = sourceFiles();

  it("CoreImportsNoRuntimeApiAndNoAdapter", () => {
    assert.ok(files.length > 5);
    for (const file of files) {
      const code = withoutComments(readFileSync(path.join(src, file), "utf8"));
      assert.doesNotMatch(code, /from\s+["'](node:|bun|deno|@hono\/node-server)/, `${file} imports a runtime module`);
      assert.doesNotMatch(code, /\b(Bun|Deno|process)\.\w/, `${file} uses a runtime global`);
      assert.doesNotMatch(code, /from\s+["'](\.\.\/)+adapters/, `${file} imports an adapter`);
      assert.doesNotMatch(code, /from\s+["'][^"']*(?<!\.ts)["']/, `${file} has an import without an explicit .ts extension (JSR)`);
    }
  });

  it("SrcIsInFoldersAndEveryImportResolves", () => {
    const atRoot = files.filter((f) => !f.includes("/"));
    assert.deepEqual(
      atRoot.sort(),
      ["core.ts", "exports.ts", "types.ts"],
      "only the barrels and the shared types live at the root of src/",
    );
    for (const file of files) {
      for (const target of importsOf(file)) assert.ok(files.includes(target), `${file} imports ${target}, which is not a file in src/`);
    }
  });

  it("NothingImportsTheBarrelsAndTheSharedTypesImportNothing", () => {
    for (const file of files) {
      for (const target of importsOf(file)) {
        if (BARRELS.has(file)) continue;
        assert.ok(!BARRELS.has(target), `${file} imports the barrel ${target}`);
      }
    }
    assert.deepEqual(importsOf("types.ts"), [], "src/types.ts is the leaf every folder shares");
  });

  it("FoldersDependOneWay", () => {
    const graph = new Map<string, Set<string>>();
    for (const file of files) {
      const from = folderOf(file);
      if (!graph.has(from)) graph.set(from, new Set());
      for (const target of importsOf(file)) {
        const to = folderOf(target);
        if (to !== from) graph.get(from)!.add(to);
      }
    }
    const cycle = findCycle(graph);
    assert.equal(cycle, undefined, `folders import each other back: ${cycle?.join(" -> ")}`);
  });

  it("NoFileImportsItselfBackThroughACircle", () => {
    const graph = new Map(files.map((file) => [file, new Set(importsOf(file))]));
    const cycle = findCycle(graph);
    assert.equal(cycle, undefined, `import circle: ${cycle?.join(" -> ")}`);
  });

  it("TheCycleFinderFindsACircle", () => {
    // The checks above pass on an empty graph too: make sure they can fail.
    const graph = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]);
    assert.deepEqual(findCycle(graph), ["a", "b", "c", "a"]);
    assert.equal(findCycle(new Map([["a", new Set(["b"])], ["b", new Set<string>()]])), undefined);
  });
});
