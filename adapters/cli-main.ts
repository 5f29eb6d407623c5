/**
 * The runtime's side of the command, shared by its two builds: the ESM one that Node and Deno run
 * (and Bun from the sources), and dist/cli-bun.cjs, the one Bun runs from its bytecode
 * (adapters/cli-bun.ts). No `import.meta` here: Bun writes no bytecode for a file that reads it.
 * Arguments: node:util parseArgs (https://nodejs.org/api/util.html#utilparseargsconfig), which
 * Bun and Deno implement too. Nothing else from node:* at start: node:fs, node:path, node:url and
 * node:process cost Deno ~65 ms of CPU and Bun ~13 ms (measured, 2.9.6 and 1.4.5), and node:util
 * is loaded only when a flag is given.
 */
import { type CommandRuntime, type PathKind, runCommand } from "../src/cli/command.ts";
import { EntryError } from "../src/cli/entry.ts";
import { parseArgsOptions, parseArgsUsage } from "../src/cli/flags.ts";
import { PACKAGE_VERSION } from "../src/cli/version.ts";
import { availableCpus } from "../src/workers/cpus.ts";

// Specifiers in variables: Deno loads every literal import into its module graph at start, dynamic
// ones too, and its node: modules cost it CPU even unused (node:util ~15 ms).
const NODE_FS = "node:fs";
const NODE_OS = "node:os";

/** A reader that answers undefined for a file that is absent or unreadable (a cgroup file outside Linux). */
const readingOrUndefined = (read: (path: string) => string) => (path: string): string | undefined => {
  try {
    return read(path);
  } catch {
    return undefined;
  }
};
const NODE_UTIL = "node:util";

/** What the command needs from the process, on each runtime. */
interface Host {
  name: "node" | "bun" | "deno";
  version: string;
  args: string[];
  cwd: string;
  env(name: string): string | undefined;
  /** The file's text; undefined when it is absent or cannot be read. */
  readText(path: string): Promise<string | undefined>;
  pathKind(path: string): Promise<PathKind>;
  /** A synchronous reader of small system files (cgroup, /proc) and the runtime's CPU count, for `workers: "auto"`. */
  cpuFacts(): Promise<{ read: (path: string) => string | undefined; count: number }>;
  exit(code: number): void;
  /** CommandRuntime.watchExit: the process's exit event (Deno: `unload`, without touching `process`). */
  watchExit(listener: (code: number) => number): () => void;
}

interface DenoHost {
  args: string[];
  version: { deno: string };
  cwd(): string;
  env: { get(name: string): string | undefined };
  statSync(path: string): { isDirectory: boolean };
  readTextFileSync(path: string): string;
  exit(code: number): never;
  exitCode: number;
}
interface BunHost {
  file(path: string): { exists(): Promise<boolean>; text(): Promise<string> };
}
interface NodeProcess {
  argv: string[];
  versions: { node: string; bun?: string };
  env: Record<string, string | undefined>;
  cwd(): string;
  exit(code: number): never;
  exitCode?: number | string;
  on(event: "exit", listener: (code: number) => void): void;
  off(event: "exit", listener: (code: number) => void): void;
}

/** undefined when it throws: absent, or not permitted (Deno's --allow-read, --allow-env). */
async function attempt<T>(read: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch {
    return undefined;
  }
}

/**
 * The process through each runtime's cheapest door: the Deno namespace on Deno, Bun.file on Bun,
 * node:fs (loaded only when a file is read) on Node; `process` is a global on Node and Bun.
 */
function host(): Host {
  // `process` is read only off Deno: there, touching the global loads Deno's node:process (~40 ms).
  const deno = (globalThis as { Deno?: DenoHost }).Deno;
  if (deno !== undefined) {
    return {
      name: "deno",
      version: deno.version.deno,
      args: deno.args,
      cwd: deno.cwd(),
      env: (name) => {
        try {
          return deno.env.get(name);
        } catch {
          return undefined;
        }
      },
      readText: (path) => attempt(() => deno.readTextFileSync(path)),
      pathKind: async (path) => {
        const stat = await attempt(() => deno.statSync(path));
        return stat === undefined ? undefined : stat.isDirectory ? "directory" : "file";
      },
      cpuFacts: () =>
        Promise.resolve({ read: readingOrUndefined((path) => deno.readTextFileSync(path)), count: navigator.hardwareConcurrency }),
      exit: (code) => deno.exit(code),
      watchExit: (listener) => {
        const onUnload = () => void (deno.exitCode = listener(deno.exitCode));
        globalThis.addEventListener("unload", onUnload);
        return () => globalThis.removeEventListener("unload", onUnload);
      },
    };
  }
  const { Bun: bun, process: node } = globalThis as unknown as { Bun?: BunHost; process: NodeProcess };
  const fs = (): Promise<typeof import("node:fs")> => import(NODE_FS);
  return {
    name: bun === undefined ? "node" : "bun",
    version: node.versions.bun ?? node.versions.node,
    args: node.argv.slice(2),
    cwd: node.cwd(),
    env: (name) => node.env[name],
    readText: (path) => attempt(async () => bun ? bun.file(path).text() : (await fs()).readFileSync(path, "utf8")),
    // Bun.file(path).exists() is false for a directory, and cheaper than node:fs on Bun's start.
    pathKind: async (path) => {
      if (bun !== undefined && (await attempt(() => bun.file(path).exists())) === true) return "file";
      const stat = await attempt(async () => (await fs()).statSync(path, { throwIfNoEntry: false }));
      return stat === undefined ? undefined : stat.isDirectory() ? "directory" : "file";
    },
    cpuFacts: async () => {
      const [{ readFileSync }, { availableParallelism }] = await Promise.all([fs(), import(NODE_OS) as Promise<typeof import("node:os")>]);
      return { read: readingOrUndefined((path) => readFileSync(path, "utf8")), count: availableParallelism() };
    },
    exit: (code) => node.exit(code),
    watchExit: (listener) => {
      // `exitCode` holds what the exit will be (Node's 13 for an unsettled top-level await).
      const onExit = (code: number) => void (node.exitCode = listener(Number(node.exitCode ?? code)));
      node.on("exit", onExit);
      return () => node.off("exit", onExit);
    },
  };
}

async function parse(args: string[]): Promise<CommandRuntime["parsed"]> {
  // Only positionals (`serve-gracefully server.mjs`, configured by the environment, as in a
  // container): what parseArgs would return, without loading node:util (~10 ms of CPU on Bun and
  // Deno at start).
  if (!args.some((arg) => arg.startsWith("-"))) return { values: {}, positionals: args };
  const { parseArgs } = await import(NODE_UTIL) as typeof import("node:util");
  try {
    const { values, positionals } = parseArgs({ args, options: parseArgsOptions(), allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    return { error: parseArgsUsage(error, args) };
  }
}

/**
 * A path (relative to `cwd`, or absolute) as a file URL, without node:path or node:url, as
 * node:url's pathToFileURL makes it: every character is the name's own. "%" (an escape), "?" and
 * "#" (a query, a fragment), a backslash outside Windows, tabs and newlines are escaped, so
 * `100%.mjs`, `a#b.mjs`, `q?.mjs` or a working directory with "%" in it name their files (they
 * were "not found", or "URI malformed"). On Windows (a `C:` working directory) a backslash
 * separates, as a slash does; a UNC path (`\\server\share`) is not made a file URL with a host.
 */
export function fileUrl(file: string, cwd: string): URL {
  const windows = /^([A-Za-z]:[\\/]|\\\\)/.test(cwd);
  const slashed = (path: string) => (windows ? path.replaceAll("\\", "/") : path);
  const name = slashed(file);
  const dir = slashed(cwd);
  const absolute = name.startsWith("/") || (windows && /^[A-Za-z]:\//.test(name));
  const path = absolute ? name : `${dir}${dir.endsWith("/") ? "" : "/"}${name}`;
  const url = new URL("file:///");
  // The pathname setter resolves "." and ".." and escapes spaces and the like, but not these.
  url.pathname = `${path.startsWith("/") ? "" : "/"}${path}`.replace(
    /[%?#\\\t\n\r]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
  return url;
}

/** The path of a file URL, as stack traces print it. */
export const urlPath = (url: URL): string => decodeURIComponent(url.pathname);

const TYPESCRIPT = /\.(ts|mts|cts|tsx)$/;

/** The entry's error with the command's own frames (and the runtime's internals) left out of its stack. */
function withoutCommandFrames(error: unknown, selfPlaces: readonly string[]): unknown {
  if (!(error instanceof Error) || typeof error.stack !== "string") return error;
  const self = [...selfPlaces, "node:internal"];
  try {
    error.stack = error.stack.split("\n").filter((line) => !/^\s+at /.test(line) || !self.some((s) => line.includes(s))).join("\n");
  } catch {
    // A frozen error keeps its stack.
  }
  return error;
}

/**
 * The entry's module namespace. On Bun through require(): Hono's 27 modules reach the first answer
 * ~3.5 ms sooner (~6 ms less CPU) than through import() (measured on 1.4.5, the command against
 * itself). Evaluated once either way: an entry that awaits at its top level (or imports one that
 * does) is evaluated by require() up to its first await, then import() waits for the rest; a
 * CommonJS entry's require() gives its exports, and import() (from the cache) the namespace.
 */
async function loadEntry(h: Host, url: URL, bunRequire: ModuleRequire | undefined): Promise<Record<string, unknown>> {
  if (h.name === "bun" && bunRequire !== undefined) {
    try {
      const loaded = bunRequire(urlPath(url));
      if (Object.prototype.toString.call(loaded) === "[object Module]") return loaded as Record<string, unknown>;
    } catch (error) {
      if (!(error instanceof TypeError && error.message.startsWith("require() async module"))) throw error;
    }
  }
  return await import(url.href);
}

/** Imports the entry; every failure becomes one EntryError line that names the file, with the cause after it. */
async function importEntry(h: Host, file: string, build: CommandBuild): Promise<Record<string, unknown>> {
  try {
    return await loadEntry(h, fileUrl(file, h.cwd), build.bunRequire);
  } catch (thrown) {
    const error = withoutCommandFrames(firstBuildError(thrown), build.selfPlaces);
    const code = (error as { code?: string } | null)?.code;
    if (h.name === "node" && TYPESCRIPT.test(file) && code === "ERR_UNKNOWN_FILE_EXTENSION") {
      // Node's type stripping takes .ts, .mts and .cts, never JSX: a newer Node is no advice for .tsx.
      const what = file.endsWith(".tsx")
        ? `TSX, which Node ${h.version} does not run (its type stripping takes .ts, .mts and .cts, no JSX): use`
        : `TypeScript, which Node ${h.version} does not run: use Node 22.18 or newer, or`;
      throw new EntryError(
        `${file} is ${what} node --import tsx node_modules/.bin/serve-gracefully ${file} (${
          (await installedPackage(h, "tsx")) ? "tsx is installed" : "after npm install -D tsx"
        })`,
      );
    }
    const message = (error as { message?: unknown } | null)?.message;
    const text = typeof message === "string" ? message : String(error);
    // Node: a SyntaxError; Deno: a TypeError saying "SyntaxError: ..."; Bun: a BuildMessage with its position.
    const name = (error as { name?: unknown } | null)?.name;
    if (error instanceof SyntaxError || name === "BuildMessage" || /^SyntaxError: /.test(text)) {
      const what = text.replace(/^SyntaxError: /, "").split("\n")[0];
      const where = syntaxErrorPlace(error, text);
      const at = where?.line === undefined ? "" : ` (line ${where.line}, column ${where.column})`;
      if (where?.path !== undefined && where.path !== urlPath(fileUrl(file, h.cwd))) {
        const imported = where.path.startsWith(`${h.cwd}/`) ? where.path.slice(h.cwd.length + 1) : where.path;
        throw new EntryError(`${file} imports ${imported}, which has a syntax error: ${what}${at}`, { cause: error });
      }
      // Node's error does not say which file it is in: the entry, or a module it imports.
      const which = where === undefined && h.name === "node" ? " (in it or in a module it imports: Node's error does not say which)" : "";
      throw new EntryError(`${file} has a syntax error: ${what}${at}${which}${esmInCommonJs(h, file, what)}`, { cause: error });
    }
    throw new EntryError(`${file} threw while loading: ${text.split("\n")[0]}`, { cause: error });
  }
}

/**
 * Node reads a .js file as CommonJS unless the nearest package.json says `"type": "module"`, and an
 * ES module read so fails on its first `import` or `export` (Bun and Deno run the same file).
 */
function esmInCommonJs(h: Host, file: string, what: string | undefined): string {
  // Only Node's own words for it, and only for a .js entry: an `export` in the wrong place of a real
  // ES module is a syntax error too ("Unexpected token 'export'"), with nothing to rename.
  if (h.name !== "node" || !file.endsWith(".js") || !/Cannot use import statement outside a module/.test(what ?? "")) return "";
  return `: Node reads a .js file as CommonJS unless its package.json says "type": "module"; add that, or name the file .mjs`;
}

/** Bun puts a module's several syntax errors in an AggregateError of BuildMessages: the first one says where. */
function firstBuildError(thrown: unknown): unknown {
  const errors = (thrown as { name?: unknown; errors?: unknown } | null)?.errors;
  if ((thrown as { name?: unknown } | null)?.name !== "AggregateError" || !Array.isArray(errors)) return thrown;
  return (errors[0] as { name?: unknown } | undefined)?.name === "BuildMessage" ? errors[0] : thrown;
}

/**
 * Where a syntax error is: Bun's BuildMessage says in `position`, Deno in its message's
 * `at file:///...:line:column`; Node's says nowhere a program can read.
 */
function syntaxErrorPlace(error: unknown, text: string): { path?: string; line?: number; column?: number } | undefined {
  const position = (error as { position?: { file?: unknown; line?: number; column?: number } } | null)?.position;
  if (position !== undefined) {
    return { ...(typeof position.file === "string" && { path: position.file }), line: position.line, column: position.column };
  }
  const at = /\n\s+at (file:\/\/\S+?):(\d+):(\d+)/.exec(text);
  if (at === null) return undefined;
  return { path: urlPath(new URL(at[1]!)), line: Number(at[2]), column: Number(at[3]) };
}

/** The nearest node_modules/<name>/package.json at or above the working directory, parsed. */
async function installedPackage(h: Host, name: string): Promise<{ version?: string } | undefined> {
  let dir = fileUrl("./", h.cwd);
  for (let depth = 0; depth < 64; depth++) {
    const text = await h.readText(urlPath(new URL(`node_modules/${name}/package.json`, dir)));
    if (text !== undefined) {
      try {
        return JSON.parse(text);
      } catch {
        return undefined;
      }
    }
    const parent = new URL("../", dir);
    if (parent.href === dir.href) return undefined;
    dir = parent;
  }
  return undefined;
}

/** What the command needs of the runtime's adapter. */
export type CommandAdapter = Pick<typeof import("./deno.ts"), "serveGracefully" | "lifecycle">;

/** Bun's require(), which loads an ES module and its imports synchronously. */
type ModuleRequire = (path: string) => unknown;

/** What each build of the command knows about itself. */
export interface CommandBuild {
  /** This runtime's adapter; only it is loaded (Bun and Deno never load @hono/node-server). */
  adapter(name: "node" | "bun" | "deno"): Promise<CommandAdapter>;
  /** Where the command's own files are (URLs and paths): their frames are left out of an entry's stack. */
  selfPlaces: readonly string[];
  /** Bun's require(), on Bun (see loadEntry). */
  bunRequire?: ModuleRequire;
}

/**
 * Runs the command line to its end: exits with its code, or serves until the lifecycle ends the
 * process (the returned promise settles only then, see below).
 */
export async function runCommandLine(build: CommandBuild): Promise<void> {
  await main(build).catch((error) => {
    console.error(error);
    // Before the host is known: a runtime global that all three have.
    (globalThis as { Deno?: { exit(code: number): never } }).Deno?.exit(1);
    (globalThis as { process?: { exit(code: number): never } }).process?.exit(1);
  });
}

async function main(build: CommandBuild): Promise<void> {
  const h = host();
  const adapter = await build.adapter(h.name);
  const outcome = await runCommand({
    parsed: await parse(h.args),
    env: (name) => h.env(name),
    pathKind: (file) => h.pathKind(urlPath(fileUrl(file, h.cwd))),
    watchExit: (listener) => h.watchExit(listener),
    importEntry: (file) => importEntry(h, file, build),
    entryThrown: (thrown) => withoutCommandFrames(thrown, build.selfPlaces),
    runtime: `${h.name} ${h.version}`,
    packageVersion: PACKAGE_VERSION,
    honoVersion: async () => (await installedPackage(h, "hono"))?.version,
    autoWorkers: async () => {
      const { read, count } = await h.cpuFacts();
      return availableCpus(read, count);
    },
    serveGracefully: adapter.serveGracefully,
    webSocketOption: h.name !== "deno",
    lifecycle: adapter.lifecycle,
    out: (text) => console.log(text),
    err: (text) => console.error(text),
  });
  if (outcome !== "serving") h.exit(outcome);
  // Serving: the lifecycle ends the process after the drain, and until then the main module
  // (adapters/cli.ts, awaiting this) is still evaluating. Bun runs a full garbage collection (2-10 ms) once its main module has finished
  // evaluating: that would fall before the listen, or on the first request (docs/cli.md#cold-start).
  await adapter.lifecycle.finished;
}
