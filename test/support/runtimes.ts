/**
 * The one runtime table: how to run a TypeScript file on Node, Bun and Deno. The conformance
 * harness, the bench and the probe all spawn through it. Node is the Node that runs the caller
 * (process.execPath), Bun and Deno are the devDependencies in node_modules/.bin.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bin = (name: string) => path.join(ROOT, "node_modules", ".bin", name);

export type RuntimeName = "node" | "bun" | "deno";

export interface Runtime {
  name: RuntimeName;
  command: string;
  args: (file: string) => string[];
}

export const RUNTIMES: Runtime[] = [
  { name: "node", command: process.execPath, args: (file) => ["--import", "tsx", file] },
  { name: "bun", command: bin("bun"), args: (file) => [file] },
  { name: "deno", command: bin("deno"), args: (file) => ["run", "-A", "--quiet", file] },
];
