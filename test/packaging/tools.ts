// deno-lint-ignore-file no-explicit-any -- parsed JSON and foreign servers' shapes, read loosely on purpose
/**
 * What the packaging tests share: the repository root, the tools in node_modules/.bin, and a
 * child-process runner with a deadline (a hung tool fails the test with its output, never hangs it).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const bin = (name: string): string => path.join(ROOT, "node_modules", ".bin", name);
export const readJson = (file: string): Record<string, any> => JSON.parse(readFileSync(path.join(ROOT, file), "utf8"));

/** The extra Node majors of the runtime matrix, installed on demand into .cache/node/. */
export { NODE_MAJORS, nodeBinary } from "../../scripts/node-majors.mjs";
export const EXTRA_NODE_MAJORS = ["22", "24", "26"] as const;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to its end (or kill it at `timeoutMs`) and collect its output. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      stderr += `\n[killed after ${options.timeoutMs ?? 30_000} ms]`;
    }, options.timeoutMs ?? 30_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

/** A failure message that shows what the command said. */
export const said = (what: string, r: Run): string =>
  `${what} exited ${r.code}\n--- stdout\n${r.stdout.trim()}\n--- stderr\n${r.stderr.trim()}`;

/** Fail with a clear message when a devDependency is missing, instead of a spawn ENOENT. */
export function requireFile(file: string, hint = "run npm install"): string {
  if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: ${hint}`);
  return file;
}
