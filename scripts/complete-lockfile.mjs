#!/usr/bin/env node
/**
 * Adds lock entries for optional platform packages that the registry this lock was made against
 * did not serve (other OSes' builds of deno, rollup, ...). npm install skips an optional package it
 * cannot fetch, but `npm ci` then rejects the lock as "Missing: <name>@ from lock file". Each entry
 * carries its os/cpu/libc, so npm ci installs it only on that platform (here: never). The entries
 * have no `resolved` or `integrity`: this registry cannot say them. A maintainer whose registry
 * serves every platform should instead regenerate the lock there (`rm package-lock.json && npm
 * install`), which writes complete entries, and not run this script.
 *
 *   node scripts/complete-lockfile.mjs     (after npm install; then check with npm ci --dry-run)
 */
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, "utf8"));
const packages = lock.packages;

const OS = {
  darwin: "darwin",
  linux: "linux",
  win32: "win32",
  windows: "win32",
  freebsd: "freebsd",
  openbsd: "openbsd",
  netbsd: "netbsd",
  android: "android",
  sunos: "sunos",
  aix: "aix",
  openharmony: "openharmony",
};
const CPU = {
  x64: "x64",
  arm64: "arm64",
  arm: "arm",
  ia32: "ia32",
  loong64: "loong64",
  ppc64: "ppc64",
  riscv64: "riscv64",
  s390x: "s390x",
  mips64el: "mips64el",
  wasm32: "wasm32",
};

/** os, cpu and libc from a platform package's name, e.g. @rollup/rollup-linux-x64-musl. */
function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.map((p) => OS[p]).find(Boolean);
  const cpu = parts.map((p) => CPU[p] ?? (p.startsWith("arm") && p !== "arm64" ? "arm" : undefined)).find(Boolean);
  // libc is a Linux field: "gnu" in a Windows name (rollup-win32-x64-gnu) means MinGW, not glibc.
  const libc = os !== "linux"
    ? undefined
    : parts.some((p) => p.startsWith("musl"))
    ? "musl"
    : parts.some((p) => p === "gnu" || p === "glibc" || p.startsWith("gnueabi"))
    ? "glibc"
    : undefined;
  return { os, cpu, libc };
}

let added = 0;
for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const where = `node_modules/${dep}`;
    // Entries the registry wrote carry an integrity; entries without one were made here: redo them.
    const existing = packages[where] ?? packages[`${path}/node_modules/${dep}`];
    if (existing?.integrity !== undefined || (existing !== undefined && !existing.optional)) continue;
    const { os, cpu, libc } = platformOf(dep);
    if (!os || !cpu) {
      console.error(`complete-lockfile: cannot tell the platform of ${dep}; left out`);
      continue;
    }
    if (existing === undefined) added++;
    // Keys in the order npm writes them, so a rerun leaves the file unchanged.
    packages[where] = {
      version,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      optional: true,
      os: [os],
    };
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform entries`);
