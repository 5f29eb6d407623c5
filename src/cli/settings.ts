/**
 * From flags, environment and the entry to serveGracefully's options. Precedence: flag, then its
 * environment variable, then the entry's own port/hostname, then the platform's defaults. Every
 * value is checked by serveGracefully's own rules (resolveOptions), so the messages are the same;
 * the command only says which flag or variable the value came from.
 */
import { errorMessage } from "../log/logger.ts";
import { type ResolvedOptions, resolveOptions, type ServeOptions } from "../options/options.ts";
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS } from "../process/platform.ts";
import { type Flag, FLAGS, LOG_FORMATS, type LogFormat } from "./flags.ts";
import { EntryError, type EntryParts } from "./entry.ts";

/** A bad flag or value: exit 2 with this one line. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Env = (name: string) => string | undefined;
/** Where a setting came from, for --check. */
export type Source = `--${string}` | `$${string}` | "entry" | "platform" | "default";

interface Given {
  flag: Flag;
  /** The option value, converted from the string as given (unconverted when it does not parse). */
  value: unknown;
  source: Source;
}

/** What the flags and the environment say, checked, before the entry is loaded. */
export interface FlagSettings {
  given: Given[];
  logFormat: LogFormat;
  logFormatSource: Source;
  check: boolean;
}

/** A decimal number as people write one in a flag: `1000`, `2.5`, `1e3`. */
const NUMBER = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;
const noEnv: Env = () => undefined;

/** The option value a string stands for; one that does not parse stays a string for the rule to reject. */
function convert(flag: Flag, raw: string): unknown {
  if (!("option" in flag.target)) return raw;
  switch (flag.target.option) {
    case "hostname":
      return raw;
    case "health.ready":
    case "health.live":
      return raw === "false" ? false : raw;
    // Spaces around a number or "auto" are let go, as the library's own WEB_CONCURRENCY rule does.
    case "workers":
      return raw.trim() === "auto" ? "auto" : NUMBER.test(raw.trim()) ? Number(raw) : raw;
    default:
      return NUMBER.test(raw.trim()) ? Number(raw) : raw;
  }
}

/** The options object one flag's value makes (`health.ready` nests). */
function asOptions(flag: Flag, value: unknown): Record<string, unknown> {
  if (!("option" in flag.target)) return {};
  const option = flag.target.option;
  if (option === "health.ready") return { health: { ready: value } };
  if (option === "health.live") return { health: { live: value } };
  return { [option]: value };
}

/** serveGracefully's message without its "serveGracefully: " prefix. */
const ruleMessage = (error: unknown): string => errorMessage(error).replace(/^serveGracefully: /, "");

const shown = (source: Source): string => (source.startsWith("$") ? source.slice(1) : source);

/**
 * Reads every flag (values as parseArgs gave them) and, where a flag is absent, its environment
 * variable; checks each value alone by serveGracefully's rules. Throws a UsageError.
 */
export function readFlags(values: Record<string, string | boolean | undefined>, env: Env): FlagSettings {
  const given: Given[] = [];
  let logFormat: LogFormat = "json";
  let logFormatSource: Source = "default";
  for (const flag of FLAGS) {
    const fromFlag = values[flag.name];
    const fromEnv = flag.env === undefined ? undefined : env(flag.env);
    if (typeof fromFlag === "boolean" || (fromFlag === undefined && (fromEnv === undefined || fromEnv === ""))) continue;
    const source: Source = fromFlag !== undefined ? `--${flag.name}` : `$${flag.env!}`;
    const raw = (fromFlag ?? fromEnv) as string;
    if ("command" in flag.target) {
      if (flag.target.command !== "logFormat") continue;
      if (!(LOG_FORMATS as readonly string[]).includes(raw)) {
        throw new UsageError(`${shown(source)}: the log format must be one of ${LOG_FORMATS.join(", ")}, got ${JSON.stringify(raw)}`);
      }
      logFormat = raw as LogFormat;
      logFormatSource = source;
      continue;
    }
    // PORT and WEB_CONCURRENCY from the environment are read by serveGracefully's own rules (their
    // messages name the variable, as the library's do).
    if (flag.target.option === "workers" && source === "$WEB_CONCURRENCY") workersFromEnv(raw);
    const value = flag.target.option === "port" && source === "$PORT" ? portFromEnv(raw) : convert(flag, raw);
    try {
      resolveOptions(asOptions(flag, value), noEnv);
    } catch (error) {
      throw new UsageError(`${shown(source)}: ${ruleMessage(error)}`);
    }
    given.push({ flag, value, source });
  }
  return { given, logFormat, logFormatSource, check: values.check === true };
}

function portFromEnv(raw: string): number {
  try {
    return resolveOptions({}, (name) => (name === "PORT" ? raw : undefined)).port;
  } catch (error) {
    throw new UsageError(`PORT: ${ruleMessage(error)}`);
  }
}

function workersFromEnv(raw: string): void {
  try {
    resolveOptions({}, (name) => (name === "WEB_CONCURRENCY" ? raw : undefined));
  } catch (error) {
    throw new UsageError(`WEB_CONCURRENCY: ${ruleMessage(error)}`);
  }
}

/** The settings the server runs with, and where each came from. */
export interface Settings {
  /** What serveGracefully is called with (every listen setting explicit). */
  options: ServeOptions & Record<string, unknown>;
  /** The same, resolved: defaults and the platform filled in. */
  resolved: ResolvedOptions;
  sources: Record<"port" | "hostname" | "timeout" | "drainDelay" | "keepAliveTimeout" | "ready" | "live" | "workers", Source>;
  logFormat: LogFormat;
  logFormatSource: Source;
}

/**
 * Adds the entry's own port/hostname under the flags and variables, and checks the whole (a drain
 * delay must stay under the timeout). A bad port/hostname in the entry is an EntryError; a bad
 * combination of flags a UsageError.
 */
export function resolveSettings(flags: FlagSettings, entry: EntryParts, file: string, env: Env): Settings {
  const options: Record<string, unknown> = {};
  const sources = {} as Settings["sources"];
  for (const { flag, value, source } of flags.given) {
    const target = (flag.target as { option: string }).option;
    if (target.startsWith("health.")) {
      options.health = { ...(options.health as object | undefined), ...(asOptions(flag, value).health as object) };
      sources[target === "health.ready" ? "ready" : "live"] = source;
    } else if (target === "workers" && source === "$WEB_CONCURRENCY") {
      // Left to serveGracefully, which reads it by the same rule: its `listening` line then says
      // the number came from WEB_CONCURRENCY, not from an option nobody wrote.
      sources.workers = source;
    } else {
      options[target] = value;
      sources[target as keyof Settings["sources"]] = source;
    }
  }
  for (const key of ["port", "hostname"] as const) {
    if (options[key] !== undefined || entry[key] === undefined) continue;
    try {
      resolveOptions({ [key]: entry[key] }, noEnv);
    } catch (error) {
      throw new EntryError(`${file}'s default export: ${ruleMessage(error)}`);
    }
    options[key] = entry[key];
    sources[key] = "entry";
  }
  let resolved: ResolvedOptions;
  try {
    resolved = resolveOptions(options, env);
  } catch (error) {
    const message = ruleMessage(error);
    // Name the flags or variables the values came from.
    const involved = flags.given.filter((g) => message.includes(`"${(g.flag.target as { option: string }).option}"`)).map((g) =>
      shown(g.source)
    );
    throw new UsageError(`${involved.length > 0 ? `${involved.join(", ")}: ` : ""}${message}`);
  }
  // Every listen setting explicit: serveGracefully must not read PORT again under the entry's port.
  options.port = resolved.port;
  options.hostname = resolved.hostname;
  sources.port ??= "default";
  sources.hostname ??= "default";
  sources.timeout ??= resolved.sources.timeout === "platform" ? "platform" : "default";
  sources.drainDelay ??= resolved.sources.drainDelay === "platform" ? "platform" : "default";
  sources.keepAliveTimeout ??= resolved.keepAliveTimeout === DEFAULT_KEEP_ALIVE_TIMEOUT_MS ? "default" : "platform";
  sources.ready ??= "default";
  sources.live ??= "default";
  sources.workers ??= "default";
  return { options: options as Settings["options"], resolved, sources, logFormat: flags.logFormat, logFormatSource: flags.logFormatSource };
}
