/**
 * The command, runtime-agnostic: the runtime's side (adapters/cli-main.ts) parses argv, imports the
 * entry and ends the process; this decides what happens, in order: help and version, flags and
 * variables, the entry, --check, then the server.
 */
import type { Lifecycle } from "../drain/lifecycle-types.ts";
import { LifecycleController } from "../drain/lifecycle.ts";
import { errorMessage, errorStack, toLog } from "../log/logger.ts";
import type { ServeOptions } from "../options/options.ts";
import type { GracefulServer } from "../serve/serve.ts";
import type { FetchApp } from "../types.ts";
import { WORKER_ENV } from "../workers/messages.ts";
import { checkText } from "./check.ts";
import { DEFAULT_ENTRIES, EntryError, type EntryParts, entryParts } from "./entry.ts";
import { COMMAND, HELP_HINT, helpText } from "./help.ts";
import { type FlagSettings, readFlags, resolveSettings, type Settings, UsageError } from "./settings.ts";
import { textLine } from "./text-log.ts";

/** What the command needs from the runtime that runs it. */
export interface CommandRuntime {
  /** Flag values and positionals as parseArgs returned them (or the parse error). */
  parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] } | { error: string };
  env(name: string): string | undefined;
  /** What is at a path relative to the working directory: a file, a directory, or nothing. */
  pathKind(file: string): PathKind | Promise<PathKind>;
  /**
   * Calls `listener` if the process exits before the returned function is called, with the exit
   * code; the code it returns is the process's.
   */
  watchExit(listener: (code: number) => number): () => void;
  /** Imports the entry; rejects with an EntryError whose message names the file. */
  importEntry(file: string): Promise<Record<string, unknown>>;
  /** What the entry's own code threw, with the command's frames left out of its stack. */
  entryThrown(thrown: unknown): unknown;
  /** `node 22.18.0`, `bun 1.4.5`, `deno 2.9.6`. */
  runtime: string;
  packageVersion: string;
  /** Hono's version as the entry would load it, if it can be found. */
  honoVersion(): string | undefined | Promise<string | undefined>;
  /** What `workers: "auto"` comes to here (the cgroup quota, the affinity mask, the CPUs), for --check. */
  autoWorkers(): Promise<{ cpus: number; from: string }>;
  serveGracefully(app: FetchApp, options: ServeOptions): GracefulServer;
  /** Whether this runtime's serveGracefully takes a `websocket` option (Bun and Node; Deno upgrades need none). */
  webSocketOption: boolean;
  lifecycle: Lifecycle;
  out(text: string): void;
  err(text: string): void;
}

/** A file (or anything else that is not a directory), a directory, or nothing at all. */
export type PathKind = "file" | "directory" | undefined;

/** Exit code, or "serving": the server runs and the lifecycle ends the process. */
export type Outcome = 0 | 1 | 2 | "serving";

export async function runCommand(rt: CommandRuntime): Promise<Outcome> {
  if ("error" in rt.parsed) return usageError(rt, rt.parsed.error);
  const { values, positionals } = rt.parsed;
  if (values.help === true) {
    rt.out(helpText());
    return 0;
  }
  if (values.version === true) {
    rt.out(`${COMMAND} ${rt.packageVersion}\n${rt.runtime}\nhono ${(await rt.honoVersion()) ?? "not found"}`);
    return 0;
  }
  if (positionals.length > 1) return usageError(rt, `one entry file expected, got ${positionals.length}: ${positionals.join(" ")}`);

  let flags;
  try {
    flags = readFlags(values, (name) => rt.env(name));
  } catch (error) {
    if (error instanceof UsageError) return usageError(rt, error.message);
    throw error;
  }
  const logger = flags.logFormat === "json" ? undefined : flags.logFormat === "silent" ? false : textLine;
  const log = toLog(logger);
  // Parts the entry adds at its top level start while it is imported: their lines follow
  // --log-format, and none starts in a primary of workers (each worker runs them) or for --check.
  const primary = await becomesPrimary(rt, flags);
  if (rt.lifecycle instanceof LifecycleController) {
    rt.lifecycle.logBeforeServers(logger);
    if (flags.check || primary) rt.lifecycle.holdStarts();
  }

  // The entry: the one given, else the first of Hono's usual places, said in the log.
  let file = positionals[0];
  if (file === undefined) {
    for (const candidate of DEFAULT_ENTRIES) {
      if (await rt.pathKind(candidate) === "file") {
        file = candidate;
        break;
      }
    }
    if (file === undefined) {
      const error = new EntryError(`no entry given, and none of ${DEFAULT_ENTRIES.join(", ")} exists here`);
      return await toldPrimary(rt, entryFailed(rt, error), error);
    }
    if (!flags.check) log({ level: "info", event: "cli.entry", msg: `no entry given: serving ${file}`, entry: file });
  }

  // An entry that ends the process while it loads (process.exit, or on Node an event loop that ran
  // empty under its top-level await) is said, and is no success: nothing was served or checked.
  const entry = file;
  const unwatch = rt.watchExit((code) => {
    rt.err(`${COMMAND}: ${endedWhileLoading(entry, code)}`);
    return code === 0 ? 1 : code;
  });
  let loaded;
  try {
    loaded = await loadEntry(rt, flags, entry, primary);
  } finally {
    unwatch();
  }
  if (typeof loaded === "number") return loaded;
  const { parts, settings } = loaded;
  const websocket = parts.websocket !== undefined && rt.webSocketOption ? { websocket: parts.websocket } : {};
  rt.serveGracefully(parts.app, { ...settings.options, ...websocket, ...(logger === undefined ? {} : { logger }) });
  return "serving";
}

const servesItself = (file: string) =>
  `${file} calls serveGracefully itself as it loads: with workers the command serves its default export in each worker, ` +
  `and the primary must serve nothing; drop that call (or run it only when the file is run directly), or run the file itself`;

const isADirectory = (file: string) => `${file} is a directory: the entry is a module file (${file}/index.ts, for example)`;

/** The extensions of the module files an entry can be. */
const MODULE_EXTENSIONS = new Set(["js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx"]);

/** Whether a path names a module file by its extension (`app.ts`; not `src`, `..`, `api.v2` or `dir/`). */
function hasModuleExtension(file: string): boolean {
  const name = file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 && MODULE_EXTENSIONS.has(name.slice(dot + 1));
}

/** Imports the entry and settles the settings; runs its lifecycle(lc). An exit code when it fails, or after --check. */
async function loadEntry(
  rt: CommandRuntime,
  flags: FlagSettings,
  file: string,
  primary: boolean,
): Promise<{ parts: EntryParts; settings: Settings } | 0 | 1 | 2> {
  let parts, settings;
  try {
    // A given entry is looked for only when its import fails (a look costs Bun a millisecond at
    // start): a missing file, not a missing import inside it, is "not found". A directory is
    // refused alike on every runtime: Node's and Deno's import refuse it, and Bun's would serve its
    // index file, so a name without a module file's extension is looked at first.
    if (!hasModuleExtension(file) && (await rt.pathKind(file)) === "directory") throw new EntryError(isADirectory(file));
    // The primary of workers imports the entry to check it and serves nothing: an entry that calls
    // serveGracefully as it loads is refused at that call (with WEB_CONCURRENCY it would start
    // workers of its own), and the import's failure is said as that, in one line.
    const controller = primary && rt.lifecycle instanceof LifecycleController ? rt.lifecycle : undefined;
    const refusal = controller && { reason: servesItself(file), hit: false };
    if (controller) controller.serverRefusal = refusal;
    let loaded;
    try {
      loaded = await rt.importEntry(file).catch(async (error: unknown) => {
        if (refusal?.hit) throw new EntryError(refusal.reason);
        const kind = await rt.pathKind(file);
        if (kind === "directory") throw new EntryError(isADirectory(file));
        throw kind === "file" ? error : new EntryError(`${file} not found`);
      });
    } finally {
      if (controller) controller.serverRefusal = undefined;
    }
    // The entry caught the refusal and loaded anyway: still refused.
    if (refusal?.hit) throw new EntryError(refusal.reason);
    parts = entryParts(loaded, file);
    settings = resolveSettings(flags, parts, file, (name) => rt.env(name));
  } catch (error) {
    return await toldPrimary(rt, error instanceof UsageError ? usageError(rt, error.message) : entryFailed(rt, error), error);
  }
  if (flags.check) {
    const auto = settings.resolved.workers.requested === "auto" ? await rt.autoWorkers() : undefined;
    rt.out(checkText(file, parts, rt.runtime, rt.webSocketOption, settings, auto));
    return 0;
  }
  try {
    await parts.setup?.(rt.lifecycle);
  } catch (thrown) {
    const error = new EntryError(`${file}'s lifecycle(lc) threw: ${errorMessage(thrown)}`, { cause: rt.entryThrown(thrown) });
    return await toldPrimary(rt, entryFailed(rt, error), error);
  }
  return { parts, settings };
}

/** What the command says when the process ends while the entry loads. */
export function endedWhileLoading(file: string, code: number): string {
  // Node ends with 13 when its event loop runs empty under an unsettled top-level await.
  if (code === 13) return `${file} never finished loading: its top-level await still waited when nothing was left to run (exit 13)`;
  return `${file} ended the process while loading (exit ${code}${code === 0 ? ", made 1: nothing was served" : ""})`;
}

/**
 * Whether this process will be the primary of workers, as serveGracefully will decide: more than
 * one asked for (by --workers or WEB_CONCURRENCY; "auto" counted as it will be), and it is no worker
 * itself. A value that is no valid count says no here and is refused with the other settings.
 */
async function becomesPrimary(rt: CommandRuntime, flags: FlagSettings): Promise<boolean> {
  if (rt.env(WORKER_ENV) !== undefined) return false;
  const asked = flags.given.find((g) => (g.flag.target as { option?: string }).option === "workers")?.value;
  if (asked === "auto") return (await rt.autoWorkers()).cpus > 1;
  return typeof asked === "number" && Number.isInteger(asked) && asked > 1;
}

function usageError(rt: CommandRuntime, message: string): 2 {
  rt.err(`${COMMAND}: ${message} (${HELP_HINT})`);
  return 2;
}

/**
 * A failure before serving, once a worker's primary has been told why: its start.failed or
 * reload.failed line then names the cause, not only this worker's exit code.
 */
async function toldPrimary<Code extends 1 | 2>(rt: CommandRuntime, code: Code, error: unknown): Promise<Code> {
  if (rt.lifecycle instanceof LifecycleController) await rt.lifecycle.startFailedBeforeServing(errorMessage(error));
  return code;
}

/** One line that says what and which file; then the entry's own error with its stack, if it threw. */
function entryFailed(rt: CommandRuntime, error: unknown): 1 {
  if (!(error instanceof EntryError)) {
    rt.err(`${COMMAND}: ${errorMessage(error)}`);
    return 1;
  }
  rt.err(`${COMMAND}: ${error.message}`);
  if (error.cause !== undefined) rt.err(errorStack(error.cause) ?? String(error.cause));
  return 1;
}
