/**
 * N idle keep-alive connections, held by bench/idle-holder.mjs in a process of its own (when the
 * server closes them, the socket closes are handled there and do not delay this process's view of
 * the server's exit: measured with 1,000 connections, bare Node read 60 ms when the bench held them
 * itself, 40 ms with the holder).
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { commandLine, now, ROOT, track } from "./processes.ts";

export class IdleConnections {
  readonly child: ChildProcess;
  #lines: Record<string, number | string>[] = [];
  #wake: (() => void)[] = [];

  constructor(port: number, n: number) {
    const [command, args] = commandLine(process.execPath, [
      path.join(ROOT, "bench", "idle-holder.mjs"),
      "--port",
      String(port),
      "--connections",
      String(n),
    ]);
    this.child = track(spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] }));
    this.child.once("exit", () => {
      for (const wake of this.#wake.splice(0)) wake();
    });
    let buffer = "";
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.#lines.push(JSON.parse(buffer.slice(0, nl)));
        buffer = buffer.slice(nl + 1);
      }
      for (const wake of this.#wake.splice(0)) wake();
    });
  }

  async #next(key: string, ms: number): Promise<number> {
    const deadline = now() + ms;
    for (;;) {
      const i = this.#lines.findIndex((l) => key in l || "error" in l);
      if (i >= 0) {
        const [line] = this.#lines.splice(i, 1);
        if ("error" in line!) throw new Error(`idle connections: ${line.error}`);
        return line![key] as number;
      }
      if (now() >= deadline || this.child.exitCode !== null) throw new Error(`idle connections: no "${key}" within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - now());
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves with the number opened, once every connection has had its response. */
  ready(): Promise<number> {
    return this.#next("ready", 60_000);
  }

  /** How many are still open. */
  open(): Promise<number> {
    this.child.stdin!.write("status\n");
    return this.#next("open", 5_000);
  }

  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}
