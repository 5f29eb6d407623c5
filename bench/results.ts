/**
 * The shape of bench/results.json: what the runner (bench/run.ts) writes and the report writer
 * (bench/report.ts) reads.
 */
import type { RuntimeName } from "../test/support/runtimes.ts";
import type { AppName } from "./lib/processes.ts";
import type { WorkersResult } from "./measure/workers.ts";

/** One round: each of the three servers loaded once, in a rotating order. */
export interface ThroughputRound {
  /** req/s of the first bare server (A), the second bare server (A'), serveGracefully (B). */
  bare: number;
  bareAgain: number;
  graceful: number;
  /** A'/A: the bare server against itself, the noise. */
  aa: number;
  /** B/A. */
  ba: number;
}

export interface ThroughputResult {
  app: AppName;
  pinned: boolean;
  bareRps: number;
  gracefulRps: number;
  /** Medians of the per-round ratios, and their lowest and highest round. */
  ba: number;
  baMin: number;
  baMax: number;
  aa: number;
  aaMin: number;
  aaMax: number;
  errors: number;
  rounds: ThroughputRound[];
}

/**
 * floor: the serveGracefully process SIGKILLed with its connections open (what ending the process
 * costs at all); bare-close: a bare server with the minimal close-and-exit handler, SIGTERM;
 * graceful: serveGracefully, SIGTERM.
 */
export type ShutdownVariant = "floor" | "bare-close" | "graceful";
export const SHUTDOWN_VARIANTS: ShutdownVariant[] = ["floor", "bare-close", "graceful"];

export interface ShutdownRun {
  ms: number;
  exit: string;
  rssKiB: number;
  openAtSignal: number;
  killed: boolean;
  /** serveGracefully only: the drain's own durationMs (drain.end). */
  drainMs?: number;
}

export interface ShutdownVariantResult {
  ms: number;
  msMin: number;
  msMax: number;
  rssKiB: number;
  exit: string[];
  openAtSignal: number;
  drainMs?: number;
  runs: ShutdownRun[];
}

export interface ShutdownResult {
  connections: number;
  /** Set when the level could not run (e.g. too low a limit on open files). */
  skipped?: string;
  variants: Partial<Record<ShutdownVariant, ShutdownVariantResult>>;
}

export interface ColdStartResult {
  bareMs: number;
  gracefulMs: number;
  deltaMs: number;
  /** CPU time used until the first answer (all threads); absent in results from before it. */
  bareCpuMs?: number;
  gracefulCpuMs?: number;
  cpuDeltaMs?: number;
  runs: { bare: number[]; graceful: number[] };
}

/** The serve-gracefully command against the runtime's own way to serve `export default app`. */
export interface CommandStartResult extends CommandStartTimes {
  /** The runtime's own way, in words. */
  own: string;
  /** Bun only: both sides again with Bun's transpiler cache off, as in a new container. */
  emptyTranspilerCache?: CommandStartTimes;
}

/** One side-by-side measurement of the runtime's own start and the command's. */
export interface CommandStartTimes {
  ownMs: number;
  commandMs: number;
  deltaMs: number;
  /** CPU time used until the first answer (all threads), less stretched by a busy machine. */
  ownCpuMs: number;
  commandCpuMs: number;
  cpuDeltaMs: number;
  runs: { own: number[]; command: number[] };
}

export interface RuntimeResults {
  version: string;
  throughput: ThroughputResult[];
  shutdown: ShutdownResult[];
  coldStart: ColdStartResult;
  /** `workers: 2` against the bare multi-process server (absent in results from before it). */
  workers?: WorkersResult;
  /** Absent in results from before the command existed. */
  commandStart?: CommandStartResult;
}

export interface BenchSettings {
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  idleConnections: number[];
  runs: number;
  coldRuns: number;
  modes: ("free" | "pinned")[];
  apps: AppName[];
}

export interface BenchResults {
  date: string;
  command: string;
  smoke: boolean;
  settings: BenchSettings;
  machine: { nproc: number; cpu: string; memGiB: number; kernel: string; loadavgStart: number[]; loadavgEnd: number[]; fileLimit: number };
  loadGenerator: string;
  versions: Record<string, string>;
  results: Partial<Record<RuntimeName, RuntimeResults>>;
  elapsedS: number;
}
