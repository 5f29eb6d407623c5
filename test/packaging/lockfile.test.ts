/**
 * The lock file npm ci reads: entries added by scripts/complete-lockfile.mjs (other platforms'
 * optional builds this registry does not serve) must describe their platform correctly, or npm ci
 * on that platform would skip or wrongly install them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../support/harness.ts";

interface LockEntry {
  version?: string;
  integrity?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
const entries = Object.entries(lock.packages).filter(([where]) => where !== "");

describe("package-lock.json", { timeout: 10_000 }, () => {
  it("NamesLibcOnlyForLinuxPackages", () => {
    const wrong = entries.filter(([, e]) => e.libc !== undefined && !e.os?.includes("linux")).map(([where]) => where);
    assert.deepEqual(wrong, []);
  });

  it("TagsEveryEntryWithoutIntegrityAsAnOptionalPlatformBuild", () => {
    const made = entries.filter(([, e]) => e.integrity === undefined);
    const untagged = made.filter(([, e]) => !e.optional || !e.os?.length || !e.cpu?.length).map(([where]) => where);
    assert.deepEqual(untagged, []);
  });

  it("GivesMuslAndGlibcLinuxBuildsTheirLibc", () => {
    for (const [where, e] of entries) {
      if (!e.os?.includes("linux")) continue;
      const name = where.split("/").pop()!;
      if (/-musl/.test(name)) assert.deepEqual(e.libc, ["musl"], where);
      else if (/-(gnu|glibc|gnueabihf)$/.test(name)) assert.deepEqual(e.libc, ["glibc"], where);
    }
  });
});
