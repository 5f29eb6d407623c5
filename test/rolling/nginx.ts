/**
 * nginx as a child process for the keep-alive race test: a generated config in a temp dir used as
 * nginx's prefix (-p), so pid file, error log and temp paths stay there and no root is needed; the
 * master runs in the foreground (daemon off) so it is ours to stop, by its PID.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../support/ports.ts";
import { canConnect } from "../support/client.ts";
import { stopProcess } from "../support/processes.ts";

/** $NGINX, else `nginx` on PATH, else where Debian and Homebrew put it. */
const CANDIDATES = [process.env.NGINX, "nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/opt/homebrew/bin/nginx"];
let binary = "nginx";

/** The installed nginx's version line, or undefined when there is none. */
export function nginxVersion(): string | undefined {
  for (const candidate of CANDIDATES) {
    if (!candidate) continue;
    const result = spawnSync(candidate, ["-v"], { encoding: "utf8" });
    if (result.error || result.status !== 0) continue;
    binary = candidate;
    return result.stderr.split("\n")[0]?.trim(); // nginx -v prints to stderr
  }
  return undefined;
}

export interface NginxUpstream {
  port: number;
  /** nginx's `keepalive_timeout` for idle pooled connections to the upstream, in ms. */
  keepaliveTimeoutMs: number;
}

export class Nginx {
  readonly dir: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly output: string[] = [];
  port = 0;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.child = spawn(binary, ["-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding("utf8").on("data", (c: string) => this.output.push(c));
    }
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** Starts nginx in front of one upstream and waits until it accepts connections (bounded). */
  static async start(upstream: NginxUpstream): Promise<Nginx> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sg-nginx-"));
    const port = await freePort();
    writeFileSync(path.join(dir, "nginx.conf"), config(dir, port, upstream));
    const proxy = new Nginx(dir, port);
    let exited = false;
    void proxy.exited.then(() => (exited = true));
    const deadline = performance.now() + 5_000;
    for (;;) {
      if (exited) throw new Error(`nginx exited at start:\n${proxy.errorLog()}${proxy.output.join("")}`);
      if (await canConnect(port)) return proxy;
      if (performance.now() > deadline) throw new Error(`nginx did not start within 5 s:\n${proxy.errorLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  errorLog(): string {
    try {
      return readFileSync(path.join(this.dir, "error.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Fast shutdown (SIGTERM to the master we started), SIGKILL if it lingers; removes the temp dir. */
  async stop(): Promise<void> {
    await stopProcess(this.child, this.exited, "SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The documented upstream keep-alive setup: a pool of idle connections to the app (`keepalive 32`),
 * HTTP/1.1 with the Connection header cleared so they stay open, and nginx's own idle timeout for
 * them. nginx never resends a POST that failed on a reused connection: the client gets the 502.
 */
function config(dir: string, port: number, upstream: NginxUpstream): string {
  const temp = (name: string) => path.join(dir, name);
  return `daemon off;
worker_processes 1;
pid ${temp("nginx.pid")};
error_log ${temp("error.log")} warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${temp("body")};
    proxy_temp_path ${temp("proxy")};
    fastcgi_temp_path ${temp("fastcgi")};
    uwsgi_temp_path ${temp("uwsgi")};
    scgi_temp_path ${temp("scgi")};
    upstream app {
        server 127.0.0.1:${upstream.port};
        keepalive 32;
        keepalive_timeout ${upstream.keepaliveTimeoutMs}ms;
        keepalive_requests 100000;
    }
    server {
        listen 127.0.0.1:${port};
        keepalive_timeout 60s;
        keepalive_requests 100000;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`;
}
