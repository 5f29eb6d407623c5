/** Platform-aware defaults and the warning for a process that may never get the signal. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveOptions } from "../../src/options/options.ts";
import { detectPlatform, signalDeliveryWarning } from "../../src/process/platform.ts";
import {
  commandFromCmdline,
  MAX_ANCESTORS,
  parentPidFromStat,
  readAncestors,
  readAncestorsIfInitMatters,
} from "../../src/process/process-tree.ts";
import type { ProcessOrigin } from "../../src/types.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

/** A /proc of the given processes: `read` answers stat and cmdline, and records every path read. */
function fakeProc(procs: Record<number, { ppid: number; cmdline: string }>) {
  const reads: string[] = [];
  const read = (path: string) => {
    reads.push(path);
    const [, pid, file] = /^\/proc\/(\d+)\/(\w+)$/.exec(path)!;
    const proc = procs[Number(pid)];
    if (!proc) return Promise.reject(new Error("ENOENT"));
    return Promise.resolve(file === "stat" ? `${pid} (x) S ${proc.ppid} 0` : proc.cmdline);
  };
  return { reads, read };
}

describe("platform", () => {
  it("AppliesADrainDelayUnderKubernetes", () => {
    const o = resolveOptions({}, envOf({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }));
    assert.equal(o.platform.name, "kubernetes");
    assert.equal(o.drainDelay, 5_000);
    assert.equal(o.timeout, 25_000);
    assert.deepEqual(o.sources, { timeout: "default", drainDelay: "platform" });
  });

  it("FitsTheTimeoutInsideCloudRunsAndFlysKill", () => {
    assert.equal(resolveOptions({}, envOf({ K_SERVICE: "api", K_REVISION: "api-1" })).timeout, 8_000);
    assert.equal(resolveOptions({}, envOf({ FLY_APP_NAME: "api" })).timeout, 3_000);
    assert.equal(detectPlatform(envOf({ ECS_CONTAINER_METADATA_URI_V4: "http://x" })).name, "ecs");
    assert.equal(detectPlatform(envOf({})).name, "none");
  });

  it("OutlastsGoogleFrontEndsKeepAliveOnCloudRun", () => {
    const cloudRun = envOf({ K_SERVICE: "api", K_REVISION: "api-1" });
    assert.equal(resolveOptions({}, cloudRun).keepAliveTimeout, 620_000);
    assert.equal(resolveOptions({ keepAliveTimeout: 70_000 }, cloudRun).keepAliveTimeout, 70_000);
    const others: Record<string, string>[] = [{ KUBERNETES_SERVICE_HOST: "x" }, { FLY_APP_NAME: "api" }, {
      ECS_CONTAINER_METADATA_URI_V4: "http://x",
    }, {}];
    for (const env of others) {
      assert.ok(resolveOptions({}, envOf(env)).keepAliveTimeout > 60_000, JSON.stringify(env));
    }
  });

  it("LetsExplicitOptionsWin", () => {
    const o = resolveOptions({ drainDelay: 0, timeout: 9_000 }, envOf({ KUBERNETES_SERVICE_HOST: "x" }));
    assert.equal(o.drainDelay, 0);
    assert.equal(o.timeout, 9_000);
    assert.deepEqual(o.sources, { timeout: "option", drainDelay: "option" });
    // A platform delay gives way to a short explicit timeout instead of failing.
    const k8s = (timeout: number) => resolveOptions({ timeout }, envOf({ KUBERNETES_SERVICE_HOST: "x" })).drainDelay;
    assert.equal(k8s(2_000), 1_000);
    // Never leaving the drain itself less than 1000 ms: 5000 under 5500 left 500 (and 5001: 1).
    assert.equal(k8s(5_500), 2_750);
    assert.equal(k8s(5_001), 2_500);
    assert.equal(k8s(6_000), 5_000);
    assert.equal(k8s(1_500), 500);
    assert.equal(k8s(800), 0);
  });

  it("WarnsWhenAShellOrPackageManagerIsPid1", () => {
    assert.match(signalDeliveryWarning(tree(["/bin/sh", "-c", "node server.js"]))!, /shell as PID 1/);
    assert.match(signalDeliveryWarning(tree(["node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"]))!, /package manager/);
    assert.match(signalDeliveryWarning(tree(["npm", "start"]))!, /exec-form CMD/);
  });

  // The trees `npm start` really makes (checked with unshare --pid): npm runs scripts via `sh -c`.
  it("WarnsWhenAShellSitsBetweenPid1AndTheRuntime", () => {
    const npmStart = signalDeliveryWarning(tree(["sh", "-c", "node server.js"], ["npm", "start"]))!;
    assert.match(npmStart, /"npm start" \(PID 1\) -> "sh -c node server.js" -> this process \(pid 9\)/);
    assert.match(npmStart, /package manager as PID 1/);
    assert.match(npmStart, /shell between PID 1 and this process/);
    assert.match(npmStart, /exec-form CMD/);
    const shellNpm = signalDeliveryWarning(tree(["/bin/sh", "-c", "tsx server.ts"], ["npm", "start"], ["/bin/sh", "-c", "npm start"]))!;
    assert.match(shellNpm, /"\/bin\/sh -c npm start" \(PID 1\) -> "npm start" -> "\/bin\/sh -c tsx server.ts" -> this process/);
    assert.match(shellNpm, /shell as PID 1/);
    // An init passes SIGTERM to its child, npm, whose shell drops it.
    assert.match(
      signalDeliveryWarning(tree(["sh", "-c", "node s.js"], ["npm", "start"], ["/sbin/tini", "--", "npm", "start"]))!,
      /shell between/,
    );
    assert.match(
      signalDeliveryWarning(tree(["sh", "-c", "bun s.ts"], ["bun", "run", "start"], ["/sbin/docker-init", "--", "bun", "run", "start"]))!,
      /shell between/,
    );
    assert.match(signalDeliveryWarning(tree(["deno", "task", "start"]))!, /package manager as PID 1/);
    assert.match(
      signalDeliveryWarning(tree(["node", "--max-old-space-size", "512", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"]))!,
      /package manager as PID 1/,
    );
  });

  it("StaysQuietWhenSignalsArrive", () => {
    assert.equal(signalDeliveryWarning({ pid: 1, ppid: 0, ancestors: [] }), undefined, "the runtime is PID 1");
    assert.equal(signalDeliveryWarning(tree(["/sbin/tini", "--", "node", "s.js"])), undefined, "an init forwards");
    assert.equal(signalDeliveryWarning(tree(["/sbin/docker-init", "--", "bun", "s.ts"])), undefined, "docker run --init");
    assert.equal(signalDeliveryWarning(tree(["bun", "server.ts"])), undefined, "bun running a file is the runtime");
    assert.equal(signalDeliveryWarning(tree(["deno", "run", "-A", "server.ts"])), undefined, "deno running a file is the runtime");
    assert.equal(signalDeliveryWarning(tree(["bash"], ["sshd: me@pts/0"], ["/sbin/init"])), undefined, "a terminal shell on a host");
    assert.equal(
      signalDeliveryWarning(tree(["sh", "-c", "node s.js"], ["npm", "start"], ["bash"], ["/lib/systemd/systemd"])),
      undefined,
      "npm start in a terminal: Ctrl+C reaches the whole group",
    );
    assert.equal(
      signalDeliveryWarning({ pid: 9, ppid: 300, ancestors: [{ pid: 300, command: ["sh"] }] }),
      undefined,
      "the walk stopped short of PID 1",
    );
    assert.equal(signalDeliveryWarning(undefined), undefined);
  });
});

describe("process tree", () => {
  it("ReadsTheParentPidFromProcStat", () => {
    assert.equal(parentPidFromStat("12 (sh) S 1 12 12 0 -1 4194560"), 1);
    assert.equal(parentPidFromStat("40 (my (odd) name) R 37 40 1 0"), 37, "comm with spaces and parens");
    assert.equal(parentPidFromStat("garbage"), undefined);
  });

  it("SplitsARetitledCommandLine", () => {
    assert.deepEqual(commandFromCmdline("npm start\0\0\0\0"), ["npm", "start"]);
    assert.deepEqual(commandFromCmdline("sh\0-c\0node server.js\0"), ["sh", "-c", "node server.js"]);
    assert.deepEqual(commandFromCmdline(""), []);
  });

  it("WalksFromTheParentToPid1WithinABound", async () => {
    const procs: Record<number, { ppid: number; cmdline: string }> = {
      1: { ppid: 0, cmdline: "npm start\0\0" },
      12: { ppid: 1, cmdline: "sh\0-c\0node s.js\0" },
    };
    const { reads, read } = fakeProc(procs);
    assert.deepEqual(await readAncestors(12, read), [{ pid: 12, command: ["sh", "-c", "node s.js"] }, {
      pid: 1,
      command: ["npm", "start"],
    }]);
    assert.deepEqual(reads, ["/proc/12/cmdline", "/proc/12/stat", "/proc/1/cmdline"], "PID 1's stat is never read");
    // A loop of parents that never reaches PID 1 stops at the bound.
    for (let pid = 100; pid < 200; pid++) procs[pid] = { ppid: pid + 1, cmdline: "sh\0" };
    assert.equal((await readAncestors(100, read))!.length, MAX_ANCESTORS);
    assert.equal(await readAncestors(5, read), undefined, "no /proc");
  });

  it("reads PID 1 first and walks only when it is a shell, package manager or container init (each read costs RSS)", async () => {
    const procs: Record<number, { ppid: number; cmdline: string }> = {
      1: { ppid: 0, cmdline: "/sbin/init\0splash\0" },
      12: { ppid: 1, cmdline: "sh\0-c\0node s.js\0" },
    };
    const { reads, read } = fakeProc(procs);
    assert.deepEqual(await readAncestorsIfInitMatters(12, read), [{ pid: 1, command: ["/sbin/init", "splash"] }]);
    assert.deepEqual(reads, ["/proc/1/cmdline"], "an init the warning ignores: no walk");
    procs[1]!.cmdline = "/sbin/tini\0--\0sh\0";
    reads.length = 0;
    const chain = await readAncestorsIfInitMatters(12, read);
    assert.deepEqual(chain?.map((a) => a.pid), [12, 1]);
    assert.match(signalDeliveryWarning({ pid: 9, ppid: 12, ancestors: chain! })!, /a shell between PID 1/);
    assert.deepEqual(reads, ["/proc/1/cmdline", "/proc/12/cmdline", "/proc/12/stat", "/proc/1/cmdline"]);
    procs[1] = undefined as never;
    assert.equal(await readAncestorsIfInitMatters(12, read), undefined, "no /proc");
  });
});

/** A process tree: the runtime (pid 9) under these commands, parent first; the last is PID 1. */
function tree(...commands: string[][]): ProcessOrigin {
  const ancestors = commands.map((command, i) => ({ pid: i === commands.length - 1 ? 1 : 20 - i, command }));
  return { pid: 9, ppid: ancestors[0]!.pid, ancestors };
}
