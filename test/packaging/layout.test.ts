/** The README's Layout section names every source file and every folder it describes exists. */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../support/harness.ts";

const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const layout = readme.slice(readme.indexOf("## Layout"));
const block = layout.slice(layout.indexOf("```"), layout.indexOf("```", layout.indexOf("```") + 3));

describe("README layout", { timeout: 10_000 }, () => {
  it("NamesEverySourceAndAdapterFile", () => {
    const files = ["src", "adapters"].flatMap((dir) => readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith(".ts")));
    const missing = files.filter((file) => !new RegExp(`(^|[\\s,(])${file.replace(".", "\\.")}\\b`).test(block));
    assert.deepEqual(missing, [], "files the Layout section does not mention");
  });

  it("DescribesOnlyFoldersThatExist", () => {
    const folders = [...block.matchAll(/^([\w/.-]+\/)\s/gm)].map((m) => m[1]!);
    assert.ok(folders.length >= 10, `found the folders: ${folders.join(" ")}`);
    assert.deepEqual(folders.filter((folder) => !existsSync(path.join(ROOT, folder))), []);
  });
});
