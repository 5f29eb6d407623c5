/**
 * The report writer: reads the runner's results (bench/results.json) and writes the tables and
 * docs/benchmarks.md, filling bench/report-template.md. Run on its own, it rewrites the document
 * from an existing results file without measuring:
 *
 *   node --import tsx bench/report.ts [--results bench/results.json] [--out docs/benchmarks.md]
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { RuntimeName } from "../test/support/runtimes.ts";
import { round1 } from "./lib/stats.ts";
import type { BenchResults, CommandStartTimes, RuntimeResults, ShutdownVariantResult, ThroughputResult } from "./results.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TEMPLATE = path.join(ROOT, "bench", "report-template.md");
const DOCS = path.join(ROOT, "docs", "benchmarks.md");

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
const signed = (x: number, unit: string) => `${x >= 0 ? "+" : ""}${round1(x)}${unit}`;
const entries = (report: BenchResults) => Object.entries(report.results) as [RuntimeName, RuntimeResults][];

/**
 * The noise floor of a throughput claim is the widest swing of the bare server against itself
 * (A'/A) over the same rounds; B/A is called a difference only when its median lies beyond it.
 */
export function throughputReading(t: ThroughputResult): { noise: number; differs: boolean; text: string } {
  const noise = Math.max(Math.abs(t.aaMin - 1), Math.abs(t.aaMax - 1));
  const difference = t.ba - 1;
  // With fewer than three rounds the spread of A/A says too little about the noise to judge by.
  if (t.rounds.length < 3) return { noise, differs: false, text: `too few rounds to tell (${t.rounds.length})` };
  const differs = Math.abs(difference) > noise;
  const text = differs
    ? `${difference < 0 ? "slower" : "faster"} by ${percent(Math.abs(difference))} (beyond the A/A spread of ±${percent(noise)})`
    : `within noise (A/A spread ±${percent(noise)})`;
  return { noise, differs, text };
}

interface Table {
  head: string[];
  rows: string[][];
}

function throughputTable(report: BenchResults): Table {
  const rows: string[][] = [];
  for (const [name, r] of entries(report)) {
    for (const t of r.throughput) {
      rows.push([
        name,
        t.app,
        t.pinned ? "pinned" : "free",
        String(t.bareRps),
        String(t.gracefulRps),
        `${t.ba.toFixed(3)}x (${t.baMin.toFixed(3)}-${t.baMax.toFixed(3)})`,
        `${t.aa.toFixed(3)}x (${t.aaMin.toFixed(3)}-${t.aaMax.toFixed(3)})`,
        report.smoke ? "(smoke)" : throughputReading(t).text,
      ]);
    }
  }
  return { head: ["runtime", "app", "mode", "bare req/s", "serveGracefully req/s", "B/A (rounds)", "A/A (rounds)", "reading"], rows };
}

/** `workers: 2` against the bare multi-process server: throughput with its floor, scaling, RSS, exit. */
function workersTable(report: BenchResults): Table {
  const rows: string[][] = [];
  const mib = (kib: number) => `${round1(kib / 1024)}`;
  const vs = (b: number, a: number) => `${mib(b)} vs ${mib(a)} (${signed(((b - a) / a) * 100, " %")})`;
  for (const [name, r] of entries(report)) {
    const w = r.workers;
    if (!w) continue;
    const t = w.throughput;
    rows.push([
      name,
      String(t.bareRps),
      String(t.gracefulRps),
      `${t.ba.toFixed(3)}x (${t.baMin.toFixed(3)}-${t.baMax.toFixed(3)})`,
      `${t.aa.toFixed(3)}x (${t.aaMin.toFixed(3)}-${t.aaMax.toFixed(3)})`,
      w.single ? `${w.scaling.bare.toFixed(2)}x / ${w.scaling.graceful.toFixed(2)}x` : "-",
      vs(w.rss.graceful.primary, w.rss.bare.primary),
      vs(w.rss.graceful.worker, w.rss.bare.worker),
      `${w.exit.gracefulMs} ms vs ${w.exit.bareMs} ms (${w.exit.idleConnections} idle)`,
      report.smoke ? "(smoke)" : throughputReading(t).text,
    ]);
  }
  return {
    head: [
      "runtime",
      "bare req/s",
      "serveGracefully req/s",
      "B/A (rounds)",
      "A/A (rounds)",
      "scaling 1 to 2 (bare / ours)",
      "RSS primary MiB (ours vs bare)",
      "RSS per worker MiB",
      "exit after SIGTERM",
      "reading",
    ],
    rows,
  };
}

const ms = (v: ShutdownVariantResult | undefined) =>
  v ? `${v.ms} ms (${v.msMin}-${v.msMax})${v.exit.some((e) => e !== "0" && e !== "SIGKILL") ? `, exit ${v.exit.join("/")}` : ""}` : "-";

function exitTable(report: BenchResults): Table {
  const rows: string[][] = [];
  for (const [name, r] of entries(report)) {
    for (const level of r.shutdown) {
      if (level.skipped) {
        rows.push([name, String(level.connections), `skipped: ${level.skipped}`, "", "", "", ""]);
        continue;
      }
      const { floor, graceful } = level.variants;
      const bare = level.variants["bare-close"];
      const ratio = floor && graceful ? graceful.ms / floor.ms : undefined;
      const target = level.connections === 1000 && graceful
        ? (graceful.ms <= 50 ? "<= 50 ms: yes" : "<= 50 ms: NO")
        : level.connections === 10_000 && ratio !== undefined
        ? `<= 1.2x the floor: ${ratio <= 1.2 ? "yes" : "NO"}`
        : "-";
      rows.push([
        name,
        String(level.connections),
        ms(floor),
        ms(bare),
        `${ms(graceful)}${graceful?.drainMs !== undefined ? `; drain ${graceful.drainMs} ms` : ""}`,
        // The ratio only where it is the target: a few ms over a 2 ms floor is a large ratio of nothing.
        floor && graceful
          ? `${signed(graceful.ms - floor.ms, " ms")}${level.connections === 10_000 ? ` (${ratio!.toFixed(2)}x)` : ""}`
          : "-",
        report.smoke ? "(smoke)" : target,
      ]);
    }
  }
  return {
    head: ["runtime", "idle conns", "floor: SIGKILL", "bare + close handler: SIGTERM", "serveGracefully: SIGTERM", "above floor", "target"],
    rows,
  };
}

function rssTable(report: BenchResults): Table {
  const rows: string[][] = [];
  for (const [name, r] of entries(report)) {
    for (const level of r.shutdown) {
      const bare = level.variants["bare-close"];
      const graceful = level.variants.graceful;
      if (!bare || !graceful) continue;
      const ratio = graceful.rssKiB / bare.rssKiB - 1;
      const target = level.connections === 1000 ? (ratio <= 0.05 ? "<= +5 %: yes" : "<= +5 %: NO") : "-";
      rows.push([
        name,
        String(level.connections),
        (bare.rssKiB / 1024).toFixed(1),
        (graceful.rssKiB / 1024).toFixed(1),
        `${ratio >= 0 ? "+" : ""}${percent(ratio)}`,
        report.smoke ? "(smoke)" : target,
      ]);
    }
  }
  return { head: ["runtime", "idle conns", "bare MiB", "serveGracefully MiB", "B vs A", "target"], rows };
}

function coldTable(report: BenchResults): Table {
  // A run with --sections leaving cold starts out has NaN there: no row.
  const rows = entries(report).filter(([, r]) => !Number.isNaN(r.coldStart.bareMs)).map(([name, r]) => {
    const c = r.coldStart;
    return [
      name,
      `${c.bareMs} ms`,
      `${c.gracefulMs} ms`,
      signed(c.deltaMs, " ms"),
      c.cpuDeltaMs === undefined ? "" : `${c.bareCpuMs} / ${c.gracefulCpuMs} ms (${signed(c.cpuDeltaMs, " ms")})`,
      report.smoke ? "(smoke)" : c.deltaMs <= 15 ? "<= +15 ms: yes" : "<= +15 ms: NO",
    ];
  });
  return { head: ["runtime", "bare", "serveGracefully", "B - A", "CPU A / B", "target"], rows };
}

function commandTable(report: BenchResults): Table {
  const row = (name: string, own: string, c: CommandStartTimes) => [
    name,
    `${own}: ${c.ownMs} ms`,
    `${c.commandMs} ms`,
    signed(c.deltaMs, " ms"),
    `${c.ownCpuMs} / ${c.commandCpuMs} ms (${signed(c.cpuDeltaMs, " ms")})`,
    report.smoke ? "(smoke)" : c.deltaMs <= 15 ? "<= +15 ms: yes" : "<= +15 ms: NO",
  ];
  const rows = entries(report).flatMap(([name, r]) => {
    const c = r.commandStart;
    if (c === undefined) return [[name, "not measured", "", "", "", ""]];
    const empty = c.emptyTranspilerCache;
    return empty === undefined ? [row(name, c.own, c)] : [row(name, c.own, c), row(`${name}, empty transpiler cache`, c.own, empty)];
  });
  return { head: ["runtime", "the runtime's own", "serve-gracefully", "B - A", "CPU A / B", "target"], rows };
}

function asText(t: Table): string {
  const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i]!.length)));
  return [t.head, ...t.rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}
function asMarkdown(t: Table): string {
  return [`| ${t.head.join(" | ")} |`, `|${t.head.map(() => "---").join("|")}|`, ...t.rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** The tables, as text for the console and as markdown for the document. */
export function summarize(report: BenchResults): { text: string; markdown: Record<string, string> } {
  const tables = {
    throughput: throughputTable(report),
    exit: exitTable(report),
    rss: rssTable(report),
    cold: coldTable(report),
    workers: workersTable(report),
    command: commandTable(report),
  };
  const text = Object.entries(tables).map(([name, t]) => `${name}:\n${asText(t)}`).join("\n\n");
  const markdown = Object.fromEntries(Object.entries(tables).map(([name, t]) => [name, asMarkdown(t)]));
  return { text, markdown };
}

/** What failed to work at all (for the smoke run): load errors, hung exits, connections not held. */
export function problems(report: BenchResults): string[] {
  const found: string[] = [];
  for (const [name, r] of entries(report)) {
    for (const t of r.throughput) if (t.errors > 0) found.push(`${name} ${t.app}: ${t.errors} load errors`);
    if (r.workers && r.workers.throughput.errors > 0) found.push(`${name} workers: ${r.workers.throughput.errors} load errors`);
    for (const e of r.workers ? [...r.workers.exit.bareExit, ...r.workers.exit.gracefulExit] : []) {
      if (e !== "0") found.push(`${name} workers: exit ${e} on SIGTERM`);
    }
    for (const level of r.shutdown) {
      for (const [variant, v] of Object.entries(level.variants)) {
        if (v.runs.some((x) => x.killed)) {
          found.push(`${name} ${variant}: did not exit within 10 s of SIGTERM (${level.connections} idle connections)`);
        }
        if (v.openAtSignal < level.connections) {
          found.push(`${name} ${variant}: only ${v.openAtSignal}/${level.connections} idle connections were open at the signal`);
        }
        if (variant !== "floor" && v.exit.some((e) => e !== "0")) found.push(`${name} ${variant}: exit ${v.exit.join("/")} on SIGTERM`);
      }
    }
  }
  return found;
}

const RUNTIME_TITLES: Record<RuntimeName, string> = { node: "Node", bun: "Bun", deno: "Deno" };

/** docs/benchmarks.md from the template: every {{name}} in it must have a value. */
export function renderDocs(report: BenchResults): string {
  const { markdown } = summarize(report);
  const s = report.settings;
  const m = report.machine;
  const v = report.versions;
  const fields: Record<string, string> = {
    date: report.date.slice(0, 16).replace("T", " ") + " UTC",
    elapsedS: String(report.elapsedS),
    minutes: String(Math.max(1, Math.round(report.elapsedS / 60))),
    command: report.command,
    throughputTable: markdown.throughput!,
    exitTable: markdown.exit!,
    rssTable: markdown.rss!,
    coldTable: markdown.cold!,
    // A results file from before the workers section (or a run without it) has no rows to show.
    workersTable: entries(report).some(([, r]) => r.workers)
      ? markdown.workers!
      : "Not measured in this run (`--sections` left it out, or the run predates it); the numbers of the last workers run, with how it was\nrun, are in [workers.md](workers.md#measurements).",
    commandTable: markdown.command!,
    rounds: String(s.rounds),
    durationS: String(s.durationS),
    warmupS: String(s.warmupS),
    connections: String(s.connections),
    idleConnections: s.idleConnections.join(", "),
    runs: String(s.runs),
    coldRuns: String(s.coldRuns),
    modes: s.modes.join(" and "),
    nproc: String(m.nproc),
    cpu: m.cpu,
    memGiB: String(m.memGiB),
    kernel: m.kernel,
    loadavgStart: m.loadavgStart.join(" "),
    loadavgEnd: m.loadavgEnd.join(" "),
    fileLimit: String(m.fileLimit),
    loadGenerator: report.loadGenerator,
    runtimes: entries(report).map(([name]) => `${RUNTIME_TITLES[name]} ${v[name]}`).join(", "),
    hono: v.hono ?? "?",
    nodeServer: v["@hono/node-server"] ?? "?",
    tsx: v.tsx ?? "?",
    problems: problems(report).map((p) => `- ${p}`).join("\n") ||
      "None: every server answered every load run without errors, held every idle connection until the signal and exited.",
  };
  return readFileSync(TEMPLATE, "utf8").replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = fields[key];
    if (value === undefined) throw new Error(`bench/report-template.md: no value for {{${key}}}`);
    return value;
  });
}

/** Writes docs/benchmarks.md (or `out`) and returns its path. */
export function writeReport(report: BenchResults, out = DOCS): string {
  writeFileSync(out, renderDocs(report));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    strict: true,
    options: {
      results: { type: "string", default: path.join(ROOT, "bench", "results.json") },
      out: { type: "string", default: DOCS },
    },
  });
  const report = JSON.parse(readFileSync(values.results, "utf8")) as BenchResults;
  console.log(summarize(report).text);
  console.log(`wrote ${path.relative(ROOT, writeReport(report, path.resolve(values.out)))}`);
}
