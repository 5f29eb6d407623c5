/**
 * The command as Bun runs it from dist/: this file, the command (adapters/cli-main.ts), Bun's
 * adapter and the core, in one CommonJS file compiled to JavaScriptCore bytecode by `bun build
 * --bytecode` (scripts/build-bun-command.mjs). CommonJS because Bun keeps bytecode for an ES module
 * only inside a `--compile`d executable; no `import.meta` for the same reason, and no `__dirname`
 * (Bun's bundler writes in the build's own directory). The user's entry, and
 * `serve-gracefully` if the entry imports it, still load as ES modules: the copies of the library
 * share one lifecycle through globalThis (src/serve/process-lifecycle.ts).
 */
import * as bun from "./bun.ts";
import { type CommandBuild, runCommandLine } from "./cli-main.ts";

/** The command with Bun's adapter; the bin (adapters/cli.ts) gives what only an ES module knows. */
export function runBunCommandLine(build: Omit<CommandBuild, "adapter">): Promise<void> {
  return runCommandLine({ ...build, adapter: () => Promise.resolve(bun) });
}
