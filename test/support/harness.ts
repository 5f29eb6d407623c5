/**
 * Runs a fixture as a child process on one runtime and watches it from the outside: its stdout
 * lines (JSON), its exit, the time of each. Every wait has a deadline, so a regression fails fast.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { after } from "node:test";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type ChildExit, exitWithOutput } from "./processes.ts";
import { type Runtime, RUNTIMES } from "./runtimes.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export { type Runtime, RUNTIMES };

/** Runtimes to test: all, or the ones named in SG_RUNTIMES (comma-separated). */
export function selectedRuntimes(): Runtime[] {
  const only = process.env.SG_RUNTIMES?.split(",").map((s) => s.trim()).filter(Boolean);
  const chosen = only ? RUNTIMES.filter((r) => only.includes(r.name)) : RUNTIMES;
  for (const runtime of chosen) {
    if (runtime.name !== "node" && !existsSync(runtime.command)) {
      throw new Error(`${runtime.name} is not installed at ${runtime.command}: run npm install`);
    }
  }
  return chosen;
}

/**
 * Runs a file of in-process checks (test/support/checks.ts's runChecks) to its end in its own
 * process and asserts that it exited 0 with all `count` checks passed.
 */
export function assertChecksPass(command: string, args: string[], count: number, timeoutMs: number): void {
  const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: timeoutMs });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  assert.match(run.stdout, new RegExp(`^${count} passed, 0 failed$`, "m"), output);
}

export type Line = Record<string, unknown> & { at: number };

export type Exit = ChildExit;

export class Fixture {
  readonly lines: Line[] = [];
  /** Every line as written (JSON.parse would hide a key written twice). */
  readonly texts: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  readonly child: ChildProcess;
  #watchers: (() => void)[] = [];
  port = 0;

  /** `detached`: in a process group of its own (its pid is the group's id), for a signal to the whole group. */
  constructor(runtime: Runtime, file: string, options: Record<string, unknown> = {}, env: Record<string, string> = {}, detached = false) {
    this.child = spawn(runtime.command, runtime.args(path.join(ROOT, file)), {
      cwd: ROOT,
      detached,
      env: { ...process.env, ...env, SG_OPTIONS: JSON.stringify(options), NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Log records may go to either stream (errors go to stderr): both are read as lines.
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buffer = "";
      stream.setEncoding("utf8").on("data", (chunk: string) => {
        if (stream === this.child.stderr) this.stderr.push(chunk);
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const text = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          this.texts.push(text);
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { text };
          }
          this.lines.push({ ...parsed, at: performance.now() });
        }
        for (const wake of this.#watchers.splice(0)) wake();
      });
    }
    // Once its output is read to the end: the report line is often the last thing it writes.
    this.exited = exitWithOutput(this.child).then((exit) => {
      for (const wake of this.#watchers.splice(0)) wake();
      return exit;
    });
  }

  /** Starts the fixture and waits until it listens. */
  static async start(
    runtime: Runtime,
    file: string,
    options: Record<string, unknown> = {},
    env: Record<string, string> = {},
  ): Promise<Fixture> {
    const fixture = new Fixture(runtime, file, options, env);
    // A fixture that did not start in time is ended here: no one else holds it, and its open pipes
    // would keep the test file running until its own timeout.
    const line = await fixture.waitFor((l) => l.fixture === "listening", 15_000, "the fixture to listen").catch((error) => {
      fixture.kill();
      throw error;
    });
    fixture.port = line.port as number;
    return fixture;
  }

  /** The first line (already seen or still to come) that matches, within `ms`. */
  async waitFor(match: (line: Line) => boolean, ms: number, what: string): Promise<Line> {
    const deadline = performance.now() + ms;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0 || exited) {
        throw new Error(
          `timed out after ${ms} ms waiting for ${what}${exited ? " (process exited)" : ""}\nstdout:\n${
            this.lines.map((l) => JSON.stringify(l)).join("\n")
          }\nstderr:\n${this.stderr.join("")}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a signal now; returns when it was sent. */
  signal(signal: NodeJS.Signals = "SIGTERM"): number {
    this.child.kill(signal);
    return performance.now();
  }

  /** Waits for exit within `ms`, killing the process (and failing) if it does not. */
  async exit(ms: number): Promise<Exit> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.child.kill("SIGKILL");
      throw new Error(
        `process did not exit within ${ms} ms\nstdout:\n${this.lines.map((l) => JSON.stringify(l)).join("\n")}\nstderr:\n${
          this.stderr.join("")
        }`,
      );
    }
    return result;
  }

  /** Ends the process if a test failed midway. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  /** The structured log record with this event, if it was printed. */
  log(event: string): Line | undefined {
    return this.lines.find((l) => l.event === event);
  }

  report(): Record<string, unknown> | undefined {
    return this.lines.find((l) => l.fixture === "finished")?.report as Record<string, unknown> | undefined;
  }
}

/** Starts one fixture file; `track` adds a fixture made another way to those killed at the end. */
export interface FixtureStarter {
  (runtime: Runtime, options?: Record<string, unknown>): Promise<Fixture>;
  track(fixture: Fixture): Fixture;
}

/**
 * A `start` for one test file (call it at the top level): starts `file` on a runtime, with options,
 * and kills every fixture it started once the file's tests are done, whatever they did.
 */
export function fixtureStarter(file: string): FixtureStarter {
  const started: Fixture[] = [];
  after(() => started.forEach((f) => f.kill()));
  const track = (fixture: Fixture) => (started.push(fixture), fixture);
  return Object.assign(
    async (runtime: Runtime, options: Record<string, unknown> = {}) => track(await Fixture.start(runtime, file, options)),
    { track },
  );
}
