#!/usr/bin/env node
/**
 * Node 22.12+: is the kernel's reusePort balancing faster than node:cluster's round-robin? Two
 * workers of the same plain node:http server each way (plus a second cluster server, the A/A floor),
 * loaded in turn with wrk (-t1 -c32), order rotating each round.
 *
 *   node bench/probe/cluster-vs-reuseport.ts [rounds] [seconds]   (with a Node >= 22.18: it strips the types)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import cluster from "node:cluster";
import http from "node:http";
import process from "node:process";

const role = process.env.PROBE_ROLE;
const serve = (port: number, reusePort: boolean) => {
  const server = http.createServer((_req, res) => res.end("hello"));
  // reusePort: Node >= 22.12 (not in Node 20's types)
  server.listen({ port, host: "127.0.0.1", reusePort } as { port: number }, () => {
    process.send?.({ port: (server.address() as { port: number }).port });
  });
};

if (role === "cluster-worker") serve(0, false);
else if (role === "reuse-worker") serve(Number(process.env.PROBE_PORT), true);
else if (role === "cluster-primary") {
  let n = 0;
  for (let i = 0; i < 2; i++) {
    cluster.fork({ PROBE_ROLE: "cluster-worker" }).on(
      "listening",
      (a: { port: number }) => ++n === 2 && console.log(JSON.stringify({ port: a.port })),
    );
  }
} else if (role === "reuse-primary") {
  const start = (port: number) =>
    new Promise<number>((resolve) => {
      const child: ChildProcess = spawn(process.execPath, [process.argv[1]!], {
        env: { ...process.env, PROBE_ROLE: "reuse-worker", PROBE_PORT: String(port) },
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.once("message", (m: { port: number }) => resolve(m.port));
    });
  const port = await start(0);
  await start(port);
  console.log(JSON.stringify({ port }));
} else {
  const rounds = Number(process.argv[2] ?? 5);
  const seconds = Number(process.argv[3] ?? 3);
  const servers: { name: string; child: ChildProcess; port: number }[] = [];
  for (const name of ["cluster", "cluster-again", "reusePort"]) {
    const child: ChildProcess = spawn(process.execPath, [process.argv[1]!], {
      env: { ...process.env, PROBE_ROLE: name === "reusePort" ? "reuse-primary" : "cluster-primary" },
      stdio: ["ignore", "pipe", "inherit"],
      detached: true,
    });
    const port = await new Promise<number>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(JSON.parse(String(d)).port)));
    servers.push({ name, child, port });
  }
  const rps: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < 3; j++) {
      const s = servers[(r + j) % 3]!;
      const out = spawnSync("wrk", ["-t1", "-c32", `-d${seconds}s`, `http://127.0.0.1:${s.port}/`], { encoding: "utf8" }).stdout;
      rps[s.name]!.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]));
    }
  }
  for (const s of servers) process.kill(-s.child.pid!, "SIGKILL");
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const ratio = (a: number[], b: number[]) => a.map((x, i) => Math.round((x / b[i]!) * 1000) / 1000);
  console.log(
    JSON.stringify({
      node: process.version,
      rounds,
      seconds,
      rps,
      reusePortOverCluster: ratio(rps.reusePort!, rps.cluster!),
      floor: ratio(rps["cluster-again"]!, rps.cluster!),
      medians: Object.fromEntries(Object.entries(rps).map(([k, v]) => [k, median(v)])),
    }),
  );
}
