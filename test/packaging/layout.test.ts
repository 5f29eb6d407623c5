/**
 * The README's Layout section is a map of the repository: it names every source and adapter file,
 * each src/ file on the line of the folder it lives in, and names only folders and files that exist.
 *
 * The map: a line that starts at column 0 names a top-level folder (`test/unit/`); under `src/`, a
 * line indented by two names a folder of src/ (`drain/`) or a file at its root (`types.ts`); deeper
 * lines continue the entry above them. The `.ts` names of an entry are the files it lists.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../support/harness.ts";

const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
const layout = readme.slice(readme.indexOf("## Layout"));
const block = layout.slice(layout.indexOf("```"), layout.indexOf("```", layout.indexOf("```") + 3));

interface Entry {
  /** The folder (ending in "/") or the file the entry names, from the repository root. */
  path: string;
  /** The entry's text, its continuation lines included. */
  text: string;
}

const entries: Entry[] = [];
let top = "";
for (const line of block.split("\n").slice(1)) {
  const folder = /^([\w.-]+(?:\/[\w.-]+)*\/)(?:\s|$)/.exec(line)?.[1];
  const inSrc = top === "src/" ? /^ {2}([\w.-]+\/|[\w.-]+\.ts)(?:\s|$)/.exec(line)?.[1] : undefined;
  if (folder) {
    top = folder;
    entries.push({ path: folder, text: line });
  } else if (inSrc) entries.push({ path: `src/${inSrc}`, text: line });
  else if (entries.length > 0) entries[entries.length - 1]!.text += `\n${line}`;
}

const tsNames = (text: string) => [...text.matchAll(/(?<![\w./-])([\w.-]+\.ts)\b/g)].map((m) => m[1]!);
const srcFolders = entries.filter((e) => /^src\/[\w.-]+\/$/.test(e.path));

/** Every .ts file under `dir`, as a path from the repository root. */
function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(`${dir}/${d.name}`) : d.name.endsWith(".ts") ? [`${dir}/${d.name}`] : []
  );
}

describe("README layout", { timeout: 10_000 }, () => {
  it("NamesEverySourceAndAdapterFile", () => {
    const text = (where: string) => entries.filter((e) => e.path.startsWith(where)).map((e) => e.text).join("\n");
    const missing = [...sources("src"), ...sources("adapters")].filter((file) => {
      // src/drain/hold.ts on the drain/ entry; src/types.ts anywhere under src/; adapters/bun.ts on
      // the adapters/ entry.
      const where = `${path.posix.dirname(file)}/`;
      return !tsNames(text(where === "src/" ? "src/" : where)).includes(path.posix.basename(file));
    });
    assert.deepEqual(missing, [], "files the Layout section does not mention");
  });

  it("DescribesOnlyFoldersThatExist", () => {
    const folders = entries.filter((e) => e.path.endsWith("/") && !e.path.startsWith("src/")).map((e) => e.path);
    assert.ok(folders.length >= 10, `found the folders: ${folders.join(" ")}`);
    assert.ok(srcFolders.length >= 5, `found the folders of src/: ${srcFolders.map((e) => e.path).join(" ")}`);
    const named = ["src/", ...folders, ...srcFolders.map((e) => e.path)];
    assert.deepEqual(named.filter((folder) => !existsSync(path.join(ROOT, folder))), []);
  });

  it("NamesOnlyFilesThatExist", () => {
    const named = entries.flatMap((e) => {
      if (e.path === "adapters/") return tsNames(e.text).map((name) => `adapters/${name}`);
      if (/^src\/[\w.-]+\.ts$/.test(e.path)) return [e.path];
      if (srcFolders.includes(e)) return tsNames(e.text).map((name) => `${e.path}${name}`);
      return [];
    });
    assert.ok(named.length >= 4, `found the files: ${named.join(" ")}`);
    assert.deepEqual(named.filter((file) => !existsSync(path.join(ROOT, file))), [], "files the Layout section names that do not exist");
  });
});
