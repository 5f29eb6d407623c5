#!/usr/bin/env node
/**
 * `serve-gracefully [flags] [entry]`: the package's bin. Node runs it by its shebang, `bun <this
 * file>` and `deno run -A npm:serve-gracefully` run it themselves; the server runs in this same
 * process (no child), so in a container the runtime is PID 1 and gets the signal. The command
 * itself is adapters/cli-main.ts; this file picks its build and stays the main module until the
 * process ends.
 *
 * On Bun, from dist/: dist/cli-bun.cjs, the command and Bun's adapter compiled to JavaScriptCore
 * bytecode when the package was built (dist/cli-bun.cjs.jsc). Bun then parses and compiles none of
 * the library's code before the first answer: -6 to -7 ms of Bun's ~14 ms over `bun run` (the
 * command against itself measures 0.2-1.1 ms apart; docs/cli.md#cold-start). A Bun of another version than the one that built it ignores the
 * bytecode and parses the file, as fast as the ESM build.
 */
import type { runBunCommandLine } from "./cli-bun.ts";
import type { CommandAdapter, runCommandLine } from "./cli-main.ts";

type BunRequire = (path: string) => unknown;
const bunRequire = (import.meta as { require?: BunRequire }).require;
const built = import.meta.url.endsWith(".js");

/** Only this runtime's adapter is loaded (Bun and Deno never load @hono/node-server). */
async function adapter(name: "node" | "bun" | "deno"): Promise<CommandAdapter> {
  if (name === "deno") return await import("./deno.ts");
  // Not a string literal: Deno builds its module graph from every literal import, dynamic ones
  // included, and would load the Node adapter (@hono/node-server, node:net) to run on Deno (~45 ms
  // of CPU at start). Beside this file: ./node.ts in the sources, ./node.js in dist/.
  return await import(new URL(`./${name}${built ? ".js" : ".ts"}`, import.meta.url).href);
}

const here = new URL("./", import.meta.url);
// Frames of the command's own files, left out of an entry's stack: dist/ when built; adapters/ and src/ in the sources.
const selfPlaces = (built ? [here] : [here, new URL("../src/", here)]).flatMap((url) => [url.href, decodeURIComponent(url.pathname)]);

if (built && bunRequire !== undefined && (globalThis as { Bun?: unknown }).Bun !== undefined) {
  const compiled = bunRequire("./cli-bun.cjs") as { runBunCommandLine: typeof runBunCommandLine };
  await compiled.runBunCommandLine({ bunRequire, selfPlaces });
} else {
  const { runCommandLine: run } = await import("./cli-main.ts") as { runCommandLine: typeof runCommandLine };
  await run({ adapter, bunRequire, selfPlaces });
}
