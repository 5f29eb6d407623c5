/**
 * The bare multi-process server the `workers` bench compares with: what the runtimes' own guides
 * show, with the same app. Node: node:cluster, the primary forks N workers (round-robin). Bun and
 * Deno: the primary starts N copies of bench/server.ts that each listen with reusePort (the first
 * one picks the port, the others reuse it). On SIGTERM the primary passes it on to every worker
 * (each closes and exits, bench/server.ts's "close") and exits once they all have.
 *
 * `serve(port, reusePort)` starts one worker's server and resolves with its port. Prints
 * `{"bench":"listening","port":N}` from the primary once every worker listens.
 */
// deno-lint-ignore no-explicit-any
const g = globalThis as Record<string, any>;
const proc = g.process;
const runtime: "node" | "bun" | "deno" = "Deno" in g ? "deno" : "Bun" in g ? "bun" : "node";

/** In the primary: start `count` workers; they run bench/server.ts with BENCH_BARE_WORKER set. */
export async function barePrimary(count: number, listening: (port: number) => void): Promise<void> {
  const children: { pid: number; kill(signal: string): void; exited: Promise<void> }[] = [];
  let port = 0;
  const start = (env: Record<string, string>): Promise<number> => {
    if (runtime === "node") {
      const cluster = proc.getBuiltinModule("node:cluster");
      const worker = cluster.fork(env);
      children.push({ pid: worker.process.pid, kill: (s) => worker.process.kill(s), exited: new Promise((r) => worker.once("exit", r)) });
      return new Promise((resolve) => worker.once("listening", (address: { port: number }) => resolve(address.port)));
    }
    const { spawn } = proc.getBuiltinModule("node:child_process");
    const args = runtime === "deno"
      ? ["run", "-A", "--unstable-net", new URL(g.Deno.mainModule).pathname]
      : [...proc.execArgv, ...proc.argv.slice(1)];
    const child = spawn(proc.execPath, args, { env: { ...proc.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    children.push({ pid: child.pid, kill: (s) => child.kill(s), exited: new Promise((r) => child.once("exit", r)) });
    return new Promise((resolve) => {
      let buffer = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        buffer += chunk;
        const found = /"bench":"worker\.listening".*"port":(\d+)/.exec(buffer)?.[1];
        if (found) resolve(Number(found));
      });
    });
  };
  port = await start({ BENCH_BARE_WORKER: "1", BENCH_PORT: "0" });
  const rest = Array.from(
    { length: count - 1 },
    () => start({ BENCH_BARE_WORKER: "1", BENCH_PORT: runtime === "node" ? "0" : String(port) }),
  );
  await Promise.all(rest);
  const onTerm = () => {
    for (const child of children) child.kill("SIGTERM");
    void Promise.all(children.map((c) => c.exited)).then(() => (runtime === "deno" ? g.Deno.exit(0) : proc.exit(0)));
  };
  if (runtime === "deno") g.Deno.addSignalListener("SIGTERM", onTerm);
  else proc.on("SIGTERM", onTerm);
  listening(port);
}
