/**
 * The entry-export contract: what the command takes from the module it serves.
 *
 * - `export default app`: a Hono app, or any object with `fetch(request, env, ctx)`.
 * - `export default { fetch, port?, hostname?, websocket? }`: the Bun and Deno convention; `port`
 *   and `hostname` apply when no flag or variable sets them; `websocket` (Bun.serve's handlers,
 *   @hono/node-server's `{ server }`) is passed to the server where the runtime takes one.
 * - `export default fetch`: a bare fetch function.
 * - `export function lifecycle(lc)`: optional; called with the process-wide lifecycle before the
 *   server starts (awaited), to add the entry's parts (`lc.add({ name, start, stop, check })`).
 *   Not called by --check.
 */
import type { Lifecycle } from "../drain/lifecycle-types.ts";
import type { FetchApp } from "../types.ts";

/**
 * Where Hono's starter templates put the app (honojs/starter: bun, nodejs, cloudflare-workers and
 * most others use src/index.ts; deno uses main.ts), then common server file names. First found wins.
 */
export const DEFAULT_ENTRIES: readonly string[] = [
  "src/index.ts",
  "src/index.tsx",
  "src/index.js",
  "src/index.mjs",
  "index.ts",
  "index.js",
  "main.ts",
  "main.js",
  "src/server.ts",
  "src/server.js",
  "server.ts",
  "server.js",
];

/** The entry could not be served: exit 1, with this one line (the cause, if any, follows). */
export class EntryError extends Error {
  override name = "EntryError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What the entry gives the command. */
export interface EntryParts {
  app: FetchApp;
  /** The default export's own `port`/`hostname` (Bun/Deno convention), unchecked. */
  port: unknown;
  hostname: unknown;
  /** The default export's own `websocket` option (Bun's handlers, @hono/node-server's `{ server }`): an object, or undefined. */
  websocket: object | undefined;
  /** What the default export is, for --check and the startup line. */
  kind: "hono app" | "object with fetch" | "fetch function";
  /** The entry's `lifecycle(lc)` export, if it has one. */
  setup: ((lifecycle: Lifecycle) => unknown) | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  (typeof value === "object" && value !== null) || typeof value === "function";

/** Reads the module namespace of the entry `file` (as the user named it, for messages). */
export function entryParts(module: Record<string, unknown>, file: string): EntryParts {
  const setup = lifecycleExport(module.lifecycle, file);
  if (!("default" in module) || module.default === undefined) {
    const named = Object.keys(module).filter((k) => k !== "lifecycle");
    throw new EntryError(
      `${file} has no default export${named.length > 0 ? ` (it exports ${named.slice(0, 5).join(", ")})` : ""}: ` +
        "end it with `export default app` (a Hono app) or `export default { fetch, port }`",
    );
  }
  const main = module.default;
  if (typeof main === "function" && typeof (main as { fetch?: unknown }).fetch !== "function") {
    // A class without a static fetch (`export default Hono`): calling it throws on every request.
    if (/^class\b/.test(Function.prototype.toString.call(main))) {
      // `export default class {}` is named "default".
      const named = main.name !== "" && main.name !== "default";
      throw new EntryError(
        `${file}'s default export is ${named ? `the class ${main.name}` : "a class"}, not an app: export an instance ` +
          `(\`export default new ${named ? main.name : "App"}()\`, or the app made from it)`,
      );
    }
    const fetch = main as (request: Request, env: unknown, ctx: unknown) => Response | Promise<Response>;
    return {
      app: { fetch: (request, env, ctx) => fetch(request, env, ctx) },
      port: undefined,
      hostname: undefined,
      websocket: undefined,
      kind: "fetch function",
      setup,
    };
  }
  if (!isObject(main) || typeof main.fetch !== "function") {
    const shown = main === null
      ? "null"
      : Array.isArray(main)
      ? "an array"
      : isObject(main) && typeof main.then === "function"
      ? "a Promise (await it: `export default await createApp()`)"
      : isObject(main)
      ? "an object without a fetch method"
      : typeof main;
    throw new EntryError(
      `${file}'s default export is ${shown}: it must be a Hono app, an object with fetch(request, env, ctx), or { fetch, port }`,
    );
  }
  // Hono apps keep routes on the instance; only the Bun/Deno convention object carries port/hostname.
  const hono = typeof main.route === "function" && typeof main.get === "function";
  const websocket = hono ? undefined : main.websocket;
  if (websocket !== undefined && (typeof websocket !== "object" || websocket === null)) {
    throw new EntryError(
      `${file}'s default export: "websocket" must be an object (Bun's handlers, or @hono/node-server's { server }), got ${
        websocket === null ? "null" : typeof websocket
      }`,
    );
  }
  return {
    app: main as unknown as FetchApp,
    port: hono ? undefined : main.port,
    hostname: hono ? undefined : main.hostname,
    websocket,
    kind: hono ? "hono app" : "object with fetch",
    setup,
  };
}

function lifecycleExport(value: unknown, file: string): EntryParts["setup"] {
  if (value === undefined) return undefined;
  if (typeof value === "function") return value as EntryParts["setup"];
  // `export { lifecycle } from "serve-gracefully"` re-exports the process-wide lifecycle itself:
  // parts the entry added to it are already there.
  if (isObject(value) && typeof value.add === "function" && typeof value.shutdown === "function") return undefined;
  throw new EntryError(
    `${file}'s "lifecycle" export must be a function (lifecycle) => void, got ${value === null ? "null" : typeof value}`,
  );
}
