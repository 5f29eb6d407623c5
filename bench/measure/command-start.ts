/**
 * Cold start of the `serve-gracefully` command against the runtime's own way to serve the same
 * `export default app` (bench/apps/export-default.mjs): `bun run`, `deno serve`, and on Node
 * `node` with serveGracefully called in the entry. From spawn() to the end of the first GET / that
 * answers 200 (polled every ms on 127.0.0.1), alternated side by side. Also the CPU time the
 * process used until then (/proc/<pid>/task/<tid>/schedstat, in ns), which a busy machine stretches
 * far less than the wall time.
 */
import path from "node:path";
import type { Runtime } from "../../test/support/runtimes.ts";
import { ROOT, spawnToFirstAnswer } from "../lib/processes.ts";
import { median, round1 } from "../lib/stats.ts";
import type { CommandStartResult, CommandStartTimes } from "../results.ts";
import { freePort } from "../../test/support/ports.ts";

const CLI = path.join(ROOT, "dist", "cli.js");
const APP = path.join(ROOT, "bench", "apps", "export-default.mjs");
const NODE_ENTRY = path.join(ROOT, "bench", "apps", "serve-gracefully-entry.mjs");

type Side = "own" | "command";

/** How each runtime serves the module itself, and how the command does (both on PORT, quiet). */
function argv(rt: Runtime, side: Side, port: number): string[] {
  // Configured by the environment, as in a container (HOST, LOG_FORMAT below; PORT for both sides).
  const command = [APP];
  if (rt.name === "node") return side === "own" ? [rt.command, NODE_ENTRY] : [rt.command, CLI, ...command];
  if (rt.name === "bun") return side === "own" ? [rt.command, "run", APP] : [rt.command, CLI, ...command];
  return side === "own"
    ? [rt.command, "serve", "-A", "--quiet", "--host", "127.0.0.1", "--port", String(port), APP]
    : [rt.command, "run", "-A", "--quiet", CLI, ...command];
}

/** What each side is, for the report. */
export function ownCommand(rt: Runtime): string {
  return rt.name === "node"
    ? "node entry.mjs (serveGracefully in the entry)"
    : rt.name === "bun"
    ? "bun run app.mjs"
    : "deno serve app.mjs";
}

async function once(rt: Runtime, side: Side, env: Record<string, string>): Promise<{ ms: number; cpuMs: number }> {
  const port = await freePort();
  return await spawnToFirstAnswer(argv(rt, side, port), port, { LOG_FORMAT: "silent", ...env }, `${rt.name} ${side}`);
}

/**
 * Bun keeps what its transpiler made of files over 50 KB in a cache under the home directory. A new
 * container starts with it empty: on Bun both sides are measured that way too
 * (BUN_RUNTIME_TRANSPILER_CACHE_PATH=0), where the command's `// @bun` files skip the transpiler.
 */
const EMPTY_TRANSPILER_CACHE = { BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };

export async function commandStart(
  rt: Runtime,
  s: { runs: number; warm: boolean; log: (line: string) => void },
): Promise<CommandStartResult> {
  const result: CommandStartResult = { own: ownCommand(rt), ...(await sideBySide(rt, s, {})) };
  s.log(
    `  ${rt.name} command start: ${result.own} ${result.ownMs} ms (cpu ${result.ownCpuMs}), serve-gracefully ${result.commandMs} ms (cpu ${result.commandCpuMs})`,
  );
  if (rt.name === "bun") {
    result.emptyTranspilerCache = await sideBySide(rt, s, EMPTY_TRANSPILER_CACHE);
    const e = result.emptyTranspilerCache;
    s.log(
      `  bun command start, empty transpiler cache: bun run ${e.ownMs} ms (cpu ${e.ownCpuMs}), serve-gracefully ${e.commandMs} ms (cpu ${e.commandCpuMs})`,
    );
  }
  return result;
}

/** Both sides, alternated, with `env` added to both. */
async function sideBySide(
  rt: Runtime,
  s: { runs: number; warm: boolean },
  env: Record<string, string>,
): Promise<CommandStartTimes> {
  const wall: Record<Side, number[]> = { own: [], command: [] };
  const cpu: Record<Side, number[]> = { own: [], command: [] };
  if (s.warm) {
    await once(rt, "own", env); // the file cache; not counted
    await once(rt, "command", env);
  }
  for (let i = 0; i < s.runs; i++) {
    for (const side of (i % 2 === 0 ? ["own", "command"] : ["command", "own"]) as Side[]) {
      const r = await once(rt, side, env);
      wall[side].push(r.ms);
      cpu[side].push(r.cpuMs);
    }
  }
  return {
    ownMs: round1(median(wall.own)),
    commandMs: round1(median(wall.command)),
    deltaMs: round1(median(wall.command) - median(wall.own)),
    ownCpuMs: round1(median(cpu.own)),
    commandCpuMs: round1(median(cpu.command)),
    cpuDeltaMs: round1(median(cpu.command) - median(cpu.own)),
    runs: { own: wall.own.map(round1), command: wall.command.map(round1) },
  };
}
