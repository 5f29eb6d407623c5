/**
 * The one table of the command's flags: parsing (node:util parseArgs' option config), the
 * environment variables, the checks and --help are all read from it, so they cannot drift apart.
 */
import { errorMessage } from "../log/logger.ts";

/** What a flag sets. `option` flags become a serveGracefully option of that name. */
export type FlagTarget =
  | { option: "port" | "hostname" | "timeout" | "drainDelay" | "keepAliveTimeout" | "workers" }
  | { option: "health.ready" | "health.live" }
  | { command: "logFormat" | "check" | "help" | "version" };

export interface Flag {
  /** The long flag without its dashes: `--port`. */
  name: string;
  /** One-letter alias, if any: `-p`. */
  short?: string;
  /** The environment variable read when the flag is absent. */
  env?: string;
  /** What the value looks like in --help (`<ms>`); absent for a boolean flag. */
  value?: string;
  /** What it does, and its default, for --help. */
  help: string;
  target: FlagTarget;
}

/** The log formats --log-format accepts. */
export const LOG_FORMATS = ["json", "text", "silent"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const FLAGS: readonly Flag[] = [
  {
    name: "port",
    short: "p",
    env: "PORT",
    value: "<port>",
    help: "port to listen on; 0 picks a free one (default: the entry's `port`, else 3000)",
    target: { option: "port" },
  },
  {
    name: "host",
    env: "HOST",
    value: "<address>",
    help: 'address to listen on (default: the entry\'s `hostname`, else "0.0.0.0")',
    target: { option: "hostname" },
  },
  {
    name: "timeout",
    env: "SHUTDOWN_TIMEOUT_MS",
    value: "<ms>",
    help: "from the signal to the forced stop, drain delay included (default: 25000; Cloud Run 8000, Fly.io 3000)",
    target: { option: "timeout" },
  },
  {
    name: "drain-delay",
    env: "DRAIN_DELAY_MS",
    value: "<ms>",
    help: "keep serving after the signal with /readyz at 503 (default: 0; Kubernetes 5000)",
    target: { option: "drainDelay" },
  },
  {
    name: "keep-alive-timeout",
    env: "KEEP_ALIVE_TIMEOUT_MS",
    value: "<ms>",
    help: "idle time of a kept-alive connection; above your load balancer's (default: 75000; Cloud Run 620000)",
    target: { option: "keepAliveTimeout" },
  },
  {
    name: "ready-path",
    env: "READY_PATH",
    value: "<path|false>",
    help: 'readiness endpoint, "false" for none (default: /readyz)',
    target: { option: "health.ready" },
  },
  {
    name: "live-path",
    env: "LIVE_PATH",
    value: "<path|false>",
    help: 'liveness endpoint, "false" for none (default: /livez)',
    target: { option: "health.live" },
  },
  {
    name: "workers",
    env: "WEB_CONCURRENCY",
    value: '<n|"auto">',
    help: 'processes serving the port; "auto" for one per CPU (default: 1)',
    target: { option: "workers" },
  },
  {
    name: "log-format",
    env: "LOG_FORMAT",
    value: "<json|text|silent>",
    help: "JSON lines, one readable line per event, or nothing (default: json)",
    target: { command: "logFormat" },
  },
  { name: "check", help: "load the entry, print every resolved setting, exit 0 without listening", target: { command: "check" } },
  { name: "help", short: "h", help: "print this help", target: { command: "help" } },
  { name: "version", short: "v", help: "print the versions of serve-gracefully, the runtime and Hono", target: { command: "version" } },
];

/** The table as node:util parseArgs' `options`: every value is a string, checked later. */
export function parseArgsOptions(): Record<string, { type: "string" | "boolean"; short?: string }> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const flag of FLAGS) {
    options[flag.name] = flag.short === undefined
      ? { type: flag.value === undefined ? "boolean" : "string" }
      : { type: flag.value === undefined ? "boolean" : "string", short: flag.short };
  }
  return options;
}

/** How a flag is shown in messages: `--port` (or `PORT` when it came from the environment). */
export function flagByName(name: string): Flag | undefined {
  return FLAGS.find((f) => f.name === name);
}

/**
 * node:util parseArgs' error as the command's one line. Its own messages run on with advice about
 * positionals; and it calls a flag followed by anything that starts with "-" (another flag, or a
 * negative number) "ambiguous", which is a flag without its value.
 */
export function parseArgsUsage(error: unknown, args: readonly string[]): string {
  const message = errorMessage(error);
  const quoted = /'(-[^']*)'/.exec(message)?.[1];
  const flag = quoted && (/--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(" ")[0]);
  const code = (error as { code?: string }).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `unknown flag ${flag}`;
  if (code !== "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" || !flag) return message.split(/\. /)[0]!;
  if (!/argument missing|ambiguous/.test(message)) return `${flag} takes no value`;
  const next = args[args.indexOf(flag) + 1];
  if (next === undefined || !/^-[\d.]/.test(next)) return `${flag} needs a value`;
  const long = FLAGS.find((f) => `-${f.short}` === flag)?.name;
  return `${flag} needs a value (one that starts with "-" is written ${long === undefined ? flag : `--${long}`}=${next})`;
}
