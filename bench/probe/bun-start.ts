/**
 * Bun's start to the listen, steadier than the bench's spawn-to-first-answer: each variant runs
 * with bench/probe/bun-listen-time.mjs preloaded, which reads the time inside the process when
 * Bun.serve returns; variants interleaved, order alternating, one discarded start each. The first
 * variant is the baseline. Used for the cold-start analysis in docs/cli.md.
 *
 *   npm run build && node --import tsx bench/probe/bun-start.ts [starts per variant, default 30]
 *
 * Compares `bun run` on bench/apps/export-default.mjs with the built command on the same module,
 * and the command with itself (the floor under any difference between two variants); add variants (a patched copy of dist/cli.js, say) to VARIANTS to try a change.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "../lib/processes.ts";
import { median, round1 } from "../lib/stats.ts";

const BUN = path.join(ROOT, "node_modules", ".bin", "bun");
const PRELOAD = `--preload=${path.join(ROOT, "bench", "probe", "bun-listen-time.mjs")}`;
const APP = path.join(ROOT, "bench", "apps", "export-default.mjs");
const VARIANTS: Record<string, string[]> = {
  "bun run": [PRELOAD, "run", APP],
  "serve-gracefully": [PRELOAD, path.join(ROOT, "dist", "cli.js"), APP],
  // The same command again: the noise floor of a difference between two variants.
  "serve-gracefully'": [PRELOAD, path.join(ROOT, "dist", "cli.js"), APP],
};
const starts = Number(process.argv[2] ?? 30);
if (!Number.isInteger(starts) || starts < 1 || starts > 500) throw new Error("starts per variant: a whole number from 1 to 500");

const times: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((name) => [name, []]));
for (let round = 0; round <= starts; round++) {
  const names = Object.keys(VARIANTS);
  if (round % 2 === 1) names.reverse();
  for (const name of names) {
    const run = spawnSync(BUN, VARIANTS[name]!, {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_FORMAT: "silent" },
      encoding: "utf8",
      timeout: 20_000,
    });
    const at = /LISTENING_AT ([\d.]+)/.exec(run.stderr)?.[1];
    if (at === undefined) throw new Error(`${name}: no listen seen\n${run.stderr.slice(0, 2_000)}`);
    if (round > 0) times[name]!.push(Number(at)); // round 0 warms the file and transpiler caches
  }
}
const baseline = median(Object.values(times)[0]!);
for (const [name, list] of Object.entries(times)) {
  const sorted = [...list].sort((a, b) => a - b);
  const quartiles = `${round1(sorted[Math.floor(sorted.length / 4)]!)}-${round1(sorted[Math.floor((sorted.length * 3) / 4)]!)}`;
  console.log(
    `${name.padEnd(18)} listening at ${round1(median(list))} ms (quartiles ${quartiles}), ${
      round1(median(list) - baseline)
    } ms over the first`,
  );
}
