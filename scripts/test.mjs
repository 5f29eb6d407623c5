#!/usr/bin/env node
/**
 * `npm test`: every step of the suite, each the npm script of its name (`npm run test:unit` runs one
 * alone), in phases. Within a phase the steps run side by side; a phase starts when the one before
 * it passed. What may share the two cores of a small machine, and what may not:
 *   1. build, typecheck, lint, and the install of the extra Node majors the suite runs (once,
 *      before the tests that use them: no test blocks on an install). No test runs beside them:
 *      the HTTP/2 adapter test took 30 s instead of 3 beside tsc on a busy machine.
 *   2. unit tests, two files at a time; then the adapters' real-socket tests one at a time (the HTTP/2
 *      one refuses streams now and then on a loaded machine, beside another file or not).
 *   3. the arrivals test, alone: it compares ours against a bare control at 1,000 new
 *      connections a second through the close, and a stall decides a run (beside the command's
 *      and the workers' files it went red: ours 12-31 ambiguous resets in half the runs, bare 0-11).
 *   4. the rest of conformance, alone: its timing checks (keep-alive timeouts) share the machine
 *      only with its own files, three at a time.
 *   5. packaging (its files slowest first) and the bench smoke: no timing checks in either.
 *   6. rolling, alone: the nginx race's control must hit a ~1 ms window, and HAProxy must see a
 *      server fail its check within the drain delay.
 * In a phase, the first step's output streams as it comes; the others' is printed when the phase
 * ends. The end says how long each step and phase took and the load average, for the README.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const scripts = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;

/**
 * Packaging files that take longest (measured on 2 cores), started first; the rest follow by name.
 * Conformance keeps Node's order (by name), its arrivals test apart (phase 3): beside the command's
 * and the workers' files, the heaviest spawners, that comparison against a bare control went red
 * (ours 50, 24, 9, 40, 87 against bare 13, 6, 0, 5, 5 ambiguous resets, while another job ran;
 * again on 2026-12-06, ours 12-31 in half of 8 runs against bare 0-11). Alone it takes ~50 s.
 */
const PACKAGING_SLOWEST = ["types", "tarball", "examples", "jsr", "readme-snippet", "one-lifecycle"];
/** The same for conformance (a run at load 7: Node's workers 145 s, the command 95 s, WebSockets ~70 s, faults ~70 s). */
const CONFORMANCE_SLOWEST = ["workers-node", "cli", "websocket", "faults", "workers-reload", "browser"];

/** A step: the npm script `script`, or (`optional`) a preparation whose failure only warns. */
const PHASES = [
  [
    { name: "build", script: "build" },
    { name: "typecheck", script: "typecheck" },
    { name: "lint", script: "lint" },
    { name: "node majors", argv: [process.execPath, "scripts/node-majors.mjs"], optional: true },
  ],
  [{ name: "unit", script: "test:unit" }],
  [{ name: "arrivals", script: "test:arrivals" }],
  [{ name: "conformance", script: "test:conformance", order: CONFORMANCE_SLOWEST, skip: ["arrivals"] }],
  [{ name: "packaging", script: "test:packaging", order: PACKAGING_SLOWEST }, { name: "bench smoke", script: "test:bench-smoke" }],
  [{ name: "rolling", script: "test:rolling" }],
];

/**
 * The command line of a step: its npm script. One with `order` must be a plain
 * `node <flags> --test <flags> dir/*.test.ts`: its files are listed here, those named in `order`
 * first and those in `skip` left out, and run by scripts/test-files.mjs with the same flags
 * (Node 20's --test sorts them by name).
 */
function commandOf(step) {
  if (step.argv) return step.argv;
  const text = scripts[step.script];
  if (text === undefined) throw new Error(`package.json has no script "${step.script}"`);
  if (!step.order) return [npm(), "run", "-s", step.script];
  const words = text.split(/\s+/).filter(Boolean);
  const globs = words.filter((w) => w.includes("*"));
  if (words[0] !== "node" || !words.includes("--test") || globs.length !== 1 || words.at(-1) !== globs[0] || /["'&|;<>$`]/.test(text)) {
    throw new Error(`cannot order the files of "${step.script}": expected node <flags> --test <flags> dir/*.test.ts, got ${text}`);
  }
  const flags = words.slice(1, -1).filter((w) => w !== "--test" && !w.startsWith("--test-concurrency="));
  const concurrency = words.find((w) => w.startsWith("--test-concurrency="))?.split("=")[1] ?? "1";
  return [process.execPath, ...flags, "scripts/test-files.mjs", "--concurrency", concurrency, ...expand(globs[0], step.order, step.skip)];
}

const npm = () => (process.platform === "win32" ? "npm.cmd" : "npm");

/** `dir/*.test.ts` as the files it names but those in `skip`: those in `order` (by base name) first, then by name. */
function expand(pattern, order, skip = []) {
  const dir = path.dirname(pattern);
  const suffix = path.basename(pattern).replace(/^\*/, "");
  if (dir.includes("*") || path.basename(pattern).indexOf("*") !== 0) throw new Error(`cannot expand ${pattern}`);
  const files = readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith(suffix) && !skip.includes(f.slice(0, -suffix.length))).sort();
  const rank = (f) => {
    const i = order.indexOf(f.slice(0, -suffix.length));
    return i < 0 ? order.length : i;
  };
  return files.sort((a, b) => rank(a) - rank(b)).map((f) => path.join(dir, f));
}

const running = new Set();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    for (const child of running) child.kill(signal);
    process.exit(130);
  });
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const load = () => os.loadavg().map((n) => n.toFixed(2)).join(" ");

// Every step's command line, before anything runs: a script this file cannot run fails at once.
const commands = new Map(PHASES.flat().map((step) => [step, commandOf(step)]));

/** Runs one step; `live` streams its output, otherwise it is kept for later. */
function run(step, live) {
  const [command, ...args] = commands.get(step);
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: live ? "inherit" : ["ignore", "pipe", "pipe"] });
    running.add(child);
    const output = [];
    if (!live) { for (const stream of [child.stdout, child.stderr]) stream.on("data", (chunk) => output.push(chunk)); }
    const done = (code, why) => {
      running.delete(child);
      resolve({ step, code, why, ms: performance.now() - started, output: Buffer.concat(output).toString("utf8") });
    };
    child.once("error", (error) => done(1, error.message));
    child.once("close", (code, signal) => done(code ?? 1, signal ? `ended by ${signal}` : `exit ${code}`));
  });
}

/** `node scripts/test.mjs 2 4` runs only those phases (to time or retry them); no argument, all. */
const only = process.argv.slice(2).map(Number);
if (only.some((n) => !Number.isInteger(n) || n < 1 || n > PHASES.length)) {
  console.error(`usage: node scripts/test.mjs [phase number 1-${PHASES.length} ...]`);
  process.exit(2);
}

const begun = performance.now();
const loadAtStart = load();
const timings = [];
const failed = [];
for (const [i, phase] of PHASES.entries()) {
  if (only.length && !only.includes(i + 1)) continue;
  const names = phase.map((s) => s.name).join(", ");
  console.log(`\n=== npm test phase ${i + 1}/${PHASES.length}: ${names} (load average ${load()})`);
  const phaseStarted = performance.now();
  const results = await Promise.all(phase.map((step, j) => run(step, j === 0)));
  for (const r of results.slice(1)) {
    console.log(`\n=== ${r.step.name} (${r.why}, ${seconds(r.ms)}):\n${r.output.trimEnd()}`);
  }
  for (const r of results) {
    timings.push(`${r.step.name} ${seconds(r.ms)}`);
    if (r.code === 0) continue;
    if (r.step.optional) console.warn(`\n=== ${r.step.name} failed (${r.why}): the steps that need it will say so`);
    else failed.push(`${r.step.name} (${r.why})`);
  }
  timings.push(`phase ${i + 1} ${seconds(performance.now() - phaseStarted)}`);
  if (failed.length) break;
}
console.log(`\n=== npm test: ${timings.join(", ")}`);
console.log(`=== ${seconds(performance.now() - begun)} in all; load average at the start ${loadAtStart}, at the end ${load()}`);
if (failed.length) {
  console.error(`=== npm test FAILED: ${failed.join(", ")}`);
  process.exitCode = 1;
} else console.log("=== npm test: ok");
