/**
 * HAProxy as a child process for the rolling test: a config in a temp dir, the process in the
 * foreground (-db) so it is ours to stop, its log lines (one per request, one per health change)
 * read from stdout, and the runtime API on a stats socket to bring servers in and out without a
 * reload (a reload would close idle client connections itself and blur what the library does).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { canConnect } from "../support/client.ts";
import { freePort } from "../support/ports.ts";
import { stopProcess } from "../support/processes.ts";

/**
 * The haproxy to run: $HAPROXY, else `haproxy` on PATH, else where Debian and Homebrew put it
 * (/usr/sbin is not on a normal user's PATH on Debian).
 */
const CANDIDATES = [process.env.HAPROXY, "haproxy", "/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/opt/homebrew/bin/haproxy"];
let binary = "haproxy";

/** The installed haproxy's version line, or undefined when there is none. */
export function haproxyVersion(): string | undefined {
  for (const candidate of CANDIDATES) {
    if (!candidate) continue;
    const result = spawnSync(candidate, ["-v"], { encoding: "utf8" });
    if (result.error || result.status !== 0) continue;
    binary = candidate;
    return result.stdout.split("\n")[0]?.trim();
  }
  return undefined;
}

export interface LogLine {
  text: string;
  at: number;
}

/** Server slots in the backend: s1 starts with the first instance, the others in maintenance. */
export const SLOTS = ["s1", "s2", "s3"] as const;
export type Slot = (typeof SLOTS)[number];

/**
 * How haproxy asks /readyz: `http-check send` (HTTP/1.1 with a Host header), or the older one-line
 * `option httpchk GET /readyz` that many configs still use, which sends exactly
 * "GET /readyz HTTP/1.0\r\n\r\n": HTTP/1.0 without a Host header.
 */
export type HealthCheck = "http-check send" | "option httpchk";

export interface ServerStat {
  status: string; // UP, DOWN, MAINT, "UP 1/2"...
  checkStatus: string; // L7OK, L7STS, L4CON...
  checkCode: string;
}

export class HAProxy {
  readonly dir: string;
  readonly socketPath: string;
  readonly logs: LogLine[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  port = 0;

  private constructor(dir: string, config: string) {
    this.dir = dir;
    this.socketPath = path.join(dir, "admin.sock");
    const file = path.join(dir, "haproxy.cfg");
    writeFileSync(file, config);
    this.child = spawn(binary, ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buffer = "";
      stream.setEncoding("utf8").on("data", (chunk: string) => {
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          this.logs.push({ text: buffer.slice(0, newline), at: performance.now() });
          buffer = buffer.slice(newline + 1);
        }
      });
    }
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** Starts haproxy in front of `firstPort` (slot s1) and waits until it accepts connections. */
  static async start(firstPort: number, check: HealthCheck = "http-check send"): Promise<HAProxy> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sg-rolling-"));
    const port = await freePort();
    const proxy = new HAProxy(dir, config(port, path.join(dir, "admin.sock"), firstPort, check));
    proxy.port = port;
    const deadline = performance.now() + 5_000;
    let exited = false;
    void proxy.exited.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`haproxy exited at start:\n${proxy.logs.map((l) => l.text).join("\n")}`);
      if ((await canConnect(port)) && (await proxy.serverStat("s1").catch(() => undefined))) return proxy;
      if (performance.now() > deadline) throw new Error(`haproxy did not start within 5 s:\n${proxy.logs.map((l) => l.text).join("\n")}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** One runtime-API command; the socket answers and closes. */
  command(line: string, ms = 2_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      let answer = "";
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`haproxy runtime API: no answer to "${line}" within ${ms} ms`));
      }, ms);
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.write(`${line}\n`));
      socket.on("data", (chunk: string) => (answer += chunk));
      socket.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(answer);
      });
    });
  }

  /** Points an idle slot at a port and takes it out of maintenance; checks decide when it is UP. */
  async addServer(slot: Slot, port: number): Promise<void> {
    for (const line of [`set server be/${slot} addr 127.0.0.1 port ${port}`, `set server be/${slot} state ready`]) {
      const answer = (await this.command(line)).trim();
      // "set server ... addr" answers with what changed; anything mentioning an error is one.
      if (/error|unknown|invalid|no such/i.test(answer)) throw new Error(`haproxy: "${line}" -> ${answer}`);
    }
  }

  /** Takes a slot out of rotation for good (its instance has exited). */
  async removeServer(slot: Slot): Promise<void> {
    const answer = (await this.command(`set server be/${slot} state maint`)).trim();
    if (answer) throw new Error(`haproxy: set server be/${slot} state maint -> ${answer}`);
  }

  /** The slot's state as `show stat` has it. */
  async serverStat(slot: Slot): Promise<ServerStat | undefined> {
    const csv = await this.command("show stat");
    const [header, ...rows] = csv.replace(/^# /, "").split("\n");
    const columns = header!.split(",");
    const col = (name: string) => columns.indexOf(name);
    for (const row of rows) {
      const cells = row.split(",");
      if (cells[col("pxname")] === "be" && cells[col("svname")] === slot) {
        return { status: cells[col("status")]!, checkStatus: cells[col("check_status")]!, checkCode: cells[col("check_code")]! };
      }
    }
    return undefined;
  }

  /** Connections haproxy opened to each slot and requests it sent over a reused one. */
  async connectionStats(): Promise<Record<string, { connect: number; reuse: number }>> {
    const csv = await this.command("show stat");
    const [header, ...rows] = csv.replace(/^# /, "").split("\n");
    const columns = header!.split(",");
    const col = (name: string) => columns.indexOf(name);
    const stats: Record<string, { connect: number; reuse: number }> = {};
    for (const row of rows) {
      const cells = row.split(",");
      if (cells[col("pxname")] === "be" && (SLOTS as readonly string[]).includes(cells[col("svname")]!)) {
        stats[cells[col("svname")]!] = { connect: Number(cells[col("connect")]), reuse: Number(cells[col("reuse")]) };
      }
    }
    return stats;
  }

  /** Waits until the slot is UP after a passed check (bounded). */
  async waitUntilUp(slot: Slot, ms: number): Promise<ServerStat> {
    const deadline = performance.now() + ms;
    let last: ServerStat | undefined;
    for (;;) {
      last = await this.serverStat(slot);
      if (last?.status === "UP" && last.checkStatus === "L7OK") return last;
      if (performance.now() > deadline) throw new Error(`haproxy did not see ${slot} healthy within ${ms} ms: ${JSON.stringify(last)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Soft stop (SIGUSR1), then SIGKILL if it lingers; removes the temp dir. */
  async stop(): Promise<void> {
    await stopProcess(this.child, this.exited, "SIGUSR1");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The load balancer. What matters for the test:
 * - readiness on /readyz every 100 ms, one failure takes a server out, one success brings it in;
 * - keep-alive and connection reuse towards the servers (http-reuse safe, the default, spelled out);
 * - retries only for connections that could not be established (`retry-on conn-failure`): a
 *   request that reached a server is never sent again, so a POST can never run twice, and a
 *   request that a closing server dropped would show up as a client error instead of being
 *   hidden by a retry. `empty-response` / `response-timeout` would be unsafe for the POSTs.
 */
function config(port: number, socket: string, firstPort: number, check: HealthCheck): string {
  // SG_ROLLING_RETRIES=0 takes haproxy's safety net away, for control experiments.
  const retries = Number(process.env.SG_ROLLING_RETRIES ?? 3);
  const checkLines = check === "option httpchk"
    ? "    option httpchk GET /readyz"
    : "    option httpchk\n    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost";
  return `global
    log stdout format raw local0
    stats socket ${socket} mode 600 level admin
    stats timeout 5s

defaults
    mode http
    log global
    option httplog
    option log-health-checks
    option dontlognull
    log-format "req=%hr %{+Q}r %ST %b/%s %ts retries=%rc Tw=%Tw Tc=%Tc Tr=%Tr Ta=%Ta"
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    timeout http-keep-alive 30s
    timeout queue 5s
    timeout check 1s
    retries ${retries}
    option redispatch
    retry-on conn-failure

frontend fe
    bind 127.0.0.1:${port}
    capture request header x-req len 32
    default_backend be

backend be
    balance roundrobin
    http-reuse safe
${checkLines}
    http-check expect status 200
    default-server inter 100 fall 1 rise 1
    server s1 127.0.0.1:${firstPort} check
    server s2 127.0.0.1:1 check disabled
    server s3 127.0.0.1:1 check disabled
`;
}
