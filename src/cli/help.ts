/** --help, generated from the flag table so every flag and variable is in it. */
import { FLAGS } from "./flags.ts";
import { DEFAULT_ENTRIES } from "./entry.ts";

export const COMMAND = "serve-gracefully";

/** The hint every usage error ends with. */
export const HELP_HINT: string = `run ${COMMAND} --help for usage`;

export function helpText(): string {
  const rows = FLAGS.map((flag) => {
    const names = `${flag.short === undefined ? "    " : `-${flag.short}, `}--${flag.name}${
      flag.value === undefined ? "" : ` ${flag.value}`
    }`;
    return { names, env: flag.env ?? "", help: flag.help };
  });
  const namesWidth = Math.max(...rows.map((r) => r.names.length));
  const envWidth = Math.max(...rows.map((r) => r.env.length));
  const table = rows.map((r) => `  ${r.names.padEnd(namesWidth)}  ${r.env.padEnd(envWidth)}  ${r.help}`).join("\n");
  return `Usage: ${COMMAND} [flags] [entry]

Serves the entry's default export (a Hono app, an object with fetch(request, env, ctx), or
{ fetch, port?, hostname? }) with graceful shutdown: on SIGTERM or SIGINT, /readyz answers 503,
in-flight requests and waitUntil tasks finish, and the process exits 0 (1 when something was cut).
An entry may also export lifecycle(lc) to add its parts (a database pool and its check).

entry: the module to serve (default: the first of ${DEFAULT_ENTRIES.join(", ")})

Flags (a flag wins over its variable, which wins over the entry's own port/hostname, then the
platform's defaults; durations are milliseconds):
${table}

Exit codes: 0 drained (or --help, --version, --check), 1 something was cut or the entry failed to
load, 2 a bad flag or value.

Run it as the container's first process, in exec form, so the runtime gets the stop signal:
  CMD ["node", "node_modules/.bin/serve-gracefully", "src/index.js"]
  CMD ["bun", "node_modules/.bin/serve-gracefully", "src/index.ts"]
  CMD ["deno", "run", "-A", "npm:serve-gracefully", "src/index.ts"]`;
}
