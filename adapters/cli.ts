#!/usr/bin/env node
/**
 * `serve-gracefully [flags] [entry]`: the runtime's side of the command. Node runs it by its
 * shebang, `bun <this file>` and `deno run -A npm:serve-gracefully` run it themselves; the server
 * runs in this same process (no child), so in a container the runtime is PID 1 and gets the signal.
 * Arguments: node:util parseArgs (https://nodejs.org/api/util.html#utilparseargsconfig), which
 * Bun and Deno implement too.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type CommandRuntime, runCommand } from "../src/cli/command.ts";
import { EntryError } from "../src/cli/entry.ts";
import { parseArgsOptions } from "../src/cli/flags.ts";
import { PACKAGE_VERSION } from "../src/cli/version.ts";

type Versions = { bun?: string; deno?: string; node: string };
const versions = process.versions as Versions;
const runtimeName = versions.bun !== undefined ? "bun" : versions.deno !== undefined ? "deno" : "node";

function parse(): CommandRuntime["parsed"] {
  try {
    const { values, positionals } = parseArgs({
      args: process.argv.slice(2),
      options: parseArgsOptions(),
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    // parseArgs' own messages run on with advice about positionals: keep the first sentence.
    const message = error instanceof Error ? error.message : String(error);
    const quoted = /'(-[^']*)'/.exec(message)?.[1];
    const flag = quoted && (/--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(" ")[0]);
    const code = (error as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return { error: `unknown flag ${flag}` };
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
      return { error: `${flag} ${/argument missing|needs a value/.test(message) ? "needs a value" : "takes no value"}` };
    }
    return { error: message.split(/\. /)[0]! };
  }
}

const TYPESCRIPT = /\.(ts|mts|cts|tsx)$/;

/** Imports the entry; every failure becomes one EntryError line that names the file, with the cause after it. */
async function importEntry(file: string): Promise<Record<string, unknown>> {
  try {
    return await import(pathToFileURL(path.resolve(file)).href);
  } catch (thrown) {
    const error = withoutCommandFrames(thrown);
    const code = (error as { code?: string } | null)?.code;
    if (runtimeName === "node" && TYPESCRIPT.test(file) && code === "ERR_UNKNOWN_FILE_EXTENSION") {
      throw new EntryError(
        `${file} is TypeScript, which Node ${versions.node} does not run: use Node 22.18 or newer, or ` +
          `node --import tsx node_modules/.bin/serve-gracefully ${file} (${
            tsxInstalled() ? "tsx is installed" : "after npm install -D tsx"
          })`,
      );
    }
    const message = (error as { message?: unknown } | null)?.message;
    const text = typeof message === "string" ? message : String(error);
    // Node: a SyntaxError; Deno: a TypeError saying "SyntaxError: ..."; Bun: a BuildMessage with its position.
    const name = (error as { name?: unknown } | null)?.name;
    if (error instanceof SyntaxError || name === "BuildMessage" || /^SyntaxError: /.test(text)) {
      const position = (error as { position?: { line?: number; column?: number } } | null)?.position;
      const at = position?.line === undefined ? "" : ` (line ${position.line}, column ${position.column})`;
      throw new EntryError(`${file} has a syntax error: ${text.replace(/^SyntaxError: /, "").split("\n")[0]}${at}`, { cause: error });
    }
    throw new EntryError(`${file} threw while loading: ${text.split("\n")[0]}`, { cause: error });
  }
}

/** The entry's error with the command's own frames (and the runtime's internals) left out of its stack. */
function withoutCommandFrames(error: unknown): unknown {
  if (!(error instanceof Error) || typeof error.stack !== "string") return error;
  const self = [import.meta.url, fileURLToPath(import.meta.url), "node:internal"];
  try {
    error.stack = error.stack.split("\n").filter((line) => !/^\s+at /.test(line) || !self.some((s) => line.includes(s))).join("\n");
  } catch {
    // A frozen error keeps its stack.
  }
  return error;
}

/** The nearest node_modules/<name>/package.json above the working directory, parsed. */
function installedPackage(name: string): { version?: string } | undefined {
  let dir = process.cwd();
  for (let depth = 0; depth < 64; depth++) {
    const file = path.join(dir, "node_modules", name, "package.json");
    try {
      // Deno throws outside --allow-read: then it is not found.
      if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
    } catch {
      return undefined;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

const tsxInstalled = (): boolean => installedPackage("tsx") !== undefined;

async function main(): Promise<void> {
  // Only this runtime's adapter is loaded (Bun and Deno never load @hono/node-server).
  const adapter = runtimeName === "bun"
    ? await import("./bun.ts")
    : runtimeName === "deno"
    ? await import("./deno.ts")
    : await import("./node.ts");
  const outcome = await runCommand({
    parsed: parse(),
    env: (name) => process.env[name],
    exists: (file) => existsSync(path.resolve(file)),
    importEntry,
    runtime: `${runtimeName} ${versions[runtimeName]}`,
    packageVersion: PACKAGE_VERSION,
    honoVersion: () => installedPackage("hono")?.version,
    serveGracefully: adapter.serveGracefully,
    lifecycle: adapter.lifecycle,
    out: (text) => console.log(text),
    err: (text) => console.error(text),
  });
  // Serving: the lifecycle ends the process after the drain.
  if (outcome !== "serving") process.exit(outcome);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
