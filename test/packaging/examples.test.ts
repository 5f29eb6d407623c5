/**
 * The examples as the docs run them: each command the README (or docs/) gives for an example runs
 * the runtime itself (no npx: npx exits at once on a SIGTERM and leaves the server running,
 * orphaned), honours HOST and PORT, answers, and, killed by its PID, drains and leaves no process
 * behind. `npm start` too. Every other example honours HOST and PORT on every runtime.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ROOT } from "./tools.ts";

/** The forms that start the runtime itself, as the docs write them. */
const RUNTIME_COMMAND = /^(node --import tsx|node_modules\/\.bin\/bun|node_modules\/\.bin\/deno run -A) (examples\/[\w-]+\.ts)$/;
const RUNNERS: Record<string, string> = {
  node: "node --import tsx",
  bun: "node_modules/.bin/bun",
  deno: "node_modules/.bin/deno run -A",
};
const ENV = { HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", NO_COLOR: "1" };
const spawned: number[] = [];
after(() => {
  for (const pid of spawned) {
    try {
      process.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
});

/** The command lines of the sh code blocks in README.md and docs/*.md that run an example. */
function documentedCommands(): string[] {
  const files = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const commands: string[] = [];
  for (const file of files) {
    const blocks = readFileSync(path.join(ROOT, file), "utf8").matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g);
    for (const [, body] of blocks) {
      for (const raw of body!.split("\n")) {
        const line = raw.replace(/\s+#.*$/, "").trim();
        if (/\bexamples\/[\w-]+\.ts\b/.test(line) && !line.startsWith("#")) commands.push(line);
      }
    }
  }
  return [...new Set(commands)];
}

/** Every process below `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch { /* ended meanwhile */ }
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** Alive: present in /proc and not a zombie (a zombie has ended; its parent only has not reaped it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(what: string, ms: number, done: () => boolean): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Listening {
  address: string;
  port: number;
}

/**
 * Starts `command` (argv split on spaces, from the repository root) with HOST=127.0.0.1 and PORT=0,
 * waits until it listens, checks that it answers, sends SIGTERM to `target(pid)` (the runtime's
 * PID), and checks that it drained and that no process it started is left.
 */
async function runAndKill(command: string, target: (pid: number) => number = (pid) => pid): Promise<Listening[]> {
  const [file, ...args] = command.split(" ");
  const child = spawn(file!, args, { cwd: ROOT, env: { ...process.env, ...ENV }, stdio: ["ignore", "pipe", "pipe"] });
  spawned.push(child.pid!);
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const records = () =>
    output.split("\n").filter((l) => l.startsWith("{")).map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
  const listening = () => records().filter((r) => r.event === "listening") as unknown as Listening[];
  const expected = command.includes("multi-server") ? 2 : 1;
  try {
    await waitUntil(`${command} to listen\n${output}`, 30_000, () => listening().length >= expected || child.exitCode !== null);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const servers = listening();
  assert.equal(servers.length, expected, `${command} listens\n${output}`);
  for (const server of servers) {
    assert.equal(server.address, "127.0.0.1", `${command} honours HOST`);
    assert.ok(server.port > 0 && server.port !== 3000 && server.port !== 9090, `${command} honours PORT=0 (got ${server.port})`);
  }
  const response = await fetch(`http://127.0.0.1:${servers[0]!.port}/livez`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, `${command} answers`);
  await response.body?.cancel();

  const tree = [child.pid!, ...descendants(child.pid!)];
  process.kill(target(child.pid!), "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([exited, new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 20_000)))]);
  clearTimeout(timer);
  assert.notEqual(code, "timeout", `${command} exits after SIGTERM\n${output}`);
  assert.equal(code, 0, `${command} drains and exits 0\n${output}`);
  assert.ok(records().some((r) => r.event === "drain.end"), `${command} drained`);
  await waitUntil(`every process ${command} started to end (${tree.filter(alive).join(", ")} left)`, 5_000, () => !tree.some(alive));
  return servers;
}

describe("the examples as the docs run them", { concurrency: false }, () => {
  const commands = documentedCommands();

  it("the docs run each runtime's example through the runtime itself, never npx", () => {
    for (const runtime of ["node", "bun", "deno"]) {
      assert.ok(
        commands.includes(`${RUNNERS[runtime]} examples/${runtime}.ts`),
        `the docs give ${RUNNERS[runtime]} examples/${runtime}.ts`,
      );
    }
    for (const command of commands) {
      assert.match(command, RUNTIME_COMMAND, `a command that reaches the runtime: ${command}`);
      assert.ok(existsSync(path.join(ROOT, command.match(RUNTIME_COMMAND)![2]!)), `${command}: the file exists`);
    }
  });

  for (const command of documentedCommands()) {
    it(`${command}: honours HOST and PORT, answers, and killed by its PID leaves nothing behind`, async () => {
      await runAndKill(command);
    });
  }

  it("npm start runs the runtime itself; a SIGTERM to the runtime's PID drains it, and npm and its shell end too", async () => {
    const start = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts.start as string;
    assert.match(start, RUNTIME_COMMAND, "no wrapper process (tsx's CLI) between npm and node");
    // npm runs it through `sh -c`, which does not pass a SIGTERM on: the runtime's PID is the one to signal.
    const runtimeOf = (npm: number) =>
      descendants(npm).find((pid) => path.basename(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!) === "node")!;
    await runAndKill("npm start", runtimeOf);
  });
});

// The other examples (SSE, WebSocket, multi-server) on every runtime: HOST and PORT, answer, drain.
describe("every example honours HOST and PORT on every runtime", { concurrency: false }, () => {
  const others = readdirSync(path.join(ROOT, "examples")).filter((f) => ["sse.ts", "websocket.ts", "multi-server.ts"].includes(f));
  it("the examples to run are there", () => assert.equal(others.length, 3));
  for (const file of others) {
    for (const runtime of ["node", "bun", "deno"]) {
      it(`${file} on ${runtime}`, async () => {
        await runAndKill(`${RUNNERS[runtime]} examples/${file}`);
      });
    }
  }
});
