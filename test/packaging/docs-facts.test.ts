/**
 * The docs repeat the platform facts (detection variables, kill times, default timeout and drain
 * delay); src/process/platform.ts's PLATFORMS table is where they live. docs/deploy.md's table is that table,
 * printed; every other line of the docs, the deploy examples and the option JSDoc that names a
 * platform next to a number must name one of that platform's facts.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_CHECK_TIMEOUT_MS } from "../../src/drain/parts.ts";
import {
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  KILL_MARGIN_MS,
  type PlatformFacts,
  PLATFORMS,
} from "../../src/process/platform.ts";
import { CHECK_CACHE_MS } from "../../src/drain/readiness.ts";
import { ROOT } from "./tools.ts";

const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const seconds = (ms: number) => `${ms / 1000} s`;

/** docs/deploy.md's platform table, as PLATFORMS gives it. */
export function platformTable(): string {
  const rows = PLATFORMS.map((p) => {
    const detected = p.detectedBy.length === 0 ? "-" : p.detectedBy.map((v) => `\`${v}\``).join(p.needsAll ? " + " : " or ");
    const kill = p.killSetting === "fixed" ? `${seconds(p.killAfter)}, fixed` : `\`${p.killSetting}\`, ${seconds(p.killAfter)}`;
    return `| ${p.title} | ${detected} | ${kill} | ${p.timeout} | ${p.drainDelay} |`;
  });
  return ["| platform | detected by | SIGKILL after | default `timeout` | default `drainDelay` |", "|---|---|---|---|---|", ...rows].join(
    "\n",
  );
}

/** How each platform is named in prose. */
const NAMES: Record<PlatformFacts["name"], RegExp> = {
  kubernetes: /\bKubernetes\b|\bk8s\b/g,
  "cloud-run": /\bCloud Run\b/g,
  fly: /\bFly(?:\.io)?\b/g,
  ecs: /\bECS\b|\bFargate\b/g,
  none: /\bdocker stop\b/g,
};

/** Numbers of time in a line, in ms: "8000", "8 000", "25_000", "8 s", "30 seconds". */
function durations(line: string): { ms: number; at: number; text: string }[] {
  const found: { ms: number; at: number; text: string }[] = [];
  for (const m of line.matchAll(/(?<![\w.-])(\d{1,3}(?:[ _]\d{3})+|\d+)(?:\s?(ms)|\s(s|seconds))?(?![\w.])/g)) {
    const value = Number(m[1]!.replace(/[ _]/g, ""));
    const unit = m[2] ?? m[3];
    const ms = unit === "s" || unit === "seconds" ? value * 1000 : value;
    // A bare number under 1000 is a count, a status or a version, not a duration in ms.
    if (unit === undefined && value < 1000) continue;
    // A port is not a duration.
    if (/(?:port[^\n]{0,12}|EXPOSE\s)$/i.test(line.slice(0, m.index!))) continue;
    found.push({ ms, at: m.index!, text: m[0] });
  }
  return found;
}

/**
 * Numbers a file may say next to a platform besides the table's own: its example's explicit
 * settings (documented there as overrides) and values that are not about the defaults.
 */
const EXPLICIT: Record<string, number[]> = {
  // fly.toml raises kill_timeout to 30 s and passes a 25 s timeout; its checks run every 2 s.
  "examples/deploy/fly.toml": [30_000],
  // ...and `docker stop`'s 10 s fits `timeout: 8000`.
  "docs/deploy.md": [
    8_000,
    30_000,
    300_000,
    120_000,
    90_000,
    1_600,
    27_000,
    // The keep-alive table's runtime facts: Node's extra 1 s and old 5 s default, Bun's 4 s sweep,
    // 255 s cap and old 10 s default.
    1_000,
    5_000,
    4_000,
    255_000,
    10_000,
  ],
  // The health page: check timeout and cache defaults, and Kubernetes' 1 s probe timeoutSeconds.
  "docs/health.md": [DEFAULT_CHECK_TIMEOUT_MS, CHECK_CACHE_MS, 1_000],
  // The rolling test's own numbers, next to "a Kubernetes Deployment" and "a Kubernetes readiness
  // probe": its wait for an old instance to exit (12 s) and the drain delay behind HAProxy (500 ms).
  "docs/reliability.md": [12_000, 500],
};

/** The pages the README's depth moved to (issue 20): one per topic, and the measured tables. */
const DOC_PAGES = readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md") && f !== "deploy.md").map((f) => `docs/${f}`);

const FILES = [
  "README.md",
  "docs/deploy.md",
  ...DOC_PAGES,
  ...readdirSync(path.join(ROOT, "examples/deploy")).map((f) => `examples/deploy/${f}`),
  "src/options/options.ts",
  // serveGracefully's one JSDoc (the adapters re-export it bound to their runtime).
  "src/serve/serve.ts",
];

describe("docs agree with the platform table", () => {
  it("DeployMdPrintsTheTable", () => {
    const text = read("docs/deploy.md");
    assert.ok(
      text.includes(platformTable()),
      `docs/deploy.md's platform table differs from src/process/platform.ts; it should read:\n\n${platformTable()}\n`,
    );
    assert.match(text, new RegExp(`grace period\\s+>=\\s+timeout \\+ ${KILL_MARGIN_MS / 1000} s`));
  });

  it("EveryPlatformNumberInTheDocsIsAFact", () => {
    const wrong: string[] = [];
    for (const file of FILES) {
      // Sentences (and table rows), across line breaks; a number is a claim about the platform
      // named last before it ("Cloud Run: 8000, Fly.io: 3000"), else the first after it.
      const text = read(file).replace(/^\s*(?:\*|\/\/|#)\s?/gm, "");
      for (const sentence of text.split(/\.\s|;|·|\n\s*\n|\n\s*(?:[-*]|\d+\.)\s|\n(?=\|)/)) {
        const mentions = PLATFORMS.flatMap((p) => [...sentence.matchAll(NAMES[p.name])].map((m) => ({ p, at: m.index! })));
        if (mentions.length === 0) continue;
        for (const d of durations(sentence)) {
          const before = mentions.filter((m) => m.at < d.at).sort((a, b) => b.at - a.at)[0];
          const { p } = before ?? mentions.sort((a, b) => a.at - b.at)[0]!;
          const facts = [
            p.timeout,
            p.drainDelay,
            p.killAfter,
            p.keepAliveTimeout,
            KILL_MARGIN_MS,
            DEFAULT_TIMEOUT_MS,
            DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
            ...(EXPLICIT[file] ?? []),
          ];
          if (!facts.includes(d.ms)) {
            wrong.push(
              `${file}: "${d.text}" is said of ${p.title}, whose facts are ${facts.join(", ")}: ${
                sentence.trim().replace(/\s+/g, " ").slice(0, 300)
              }`,
            );
          }
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("NamesEveryDetectionVariableWhereItNamesOne", () => {
    const wrong: string[] = [];
    for (const file of FILES) {
      const text = read(file);
      for (const p of PLATFORMS.filter((p) => p.needsAll)) {
        // Where a doc says which variable detects the platform, it says all of them.
        for (const m of text.matchAll(new RegExp(`${NAMES[p.name].source}[^\\n]{0,20}\\(\`?${p.detectedBy[0]}\`?\\)`, "g"))) {
          wrong.push(`${file}: "${m[0]}" names ${p.detectedBy[0]} alone; ${p.title} needs ${p.detectedBy.join(" and ")}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });
});
