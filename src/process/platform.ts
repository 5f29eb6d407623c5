/**
 * Platform-aware defaults: where a platform says who it is (through its environment variables),
 * the timeout and drain delay fit its kill and its routing. An explicit option always wins.
 */
import type { ProcessOrigin } from "../types.ts";

/** 5 s inside the 30 s that Kubernetes and ECS give between SIGTERM and SIGKILL. */
export const DEFAULT_TIMEOUT_MS = 25_000;
/** Longer than the 60 s idle timeout of AWS ALB and nginx upstream pools, with room for clock drift. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 75_000;

/** The rule the docs give for every platform: grace period (kill after) >= timeout + this margin. */
export const KILL_MARGIN_MS = 2_000;

export type PlatformName = "kubernetes" | "cloud-run" | "fly" | "ecs" | "none";

/** One row of the platform table. */
export interface Platform {
  name: PlatformName;
  /** ms from the signal to the forced stop, inside the platform's kill. */
  timeout: number;
  /** ms to keep serving with /readyz at 503 while the platform stops routing here. */
  drainDelay: number;
  /** ms a kept-alive connection may stay idle: longer than the platform's balancer keeps it pooled. */
  keepAliveTimeout: number;
  /** Why these numbers, for the startup log line. */
  why: string;
}

/** What the docs say about a platform besides the defaults: how it is told, and when it kills. */
export interface PlatformFacts extends Platform {
  /** How the docs name it. */
  title: string;
  /** Environment variables the platform sets: all of them must be present (`needsAll`) or any one. */
  detectedBy: readonly string[];
  needsAll: boolean;
  /** ms from SIGTERM to SIGKILL by default, and the setting that changes it. */
  killAfter: number;
  killSetting: string;
}

/**
 * The one table of platform facts: detection reads it, and test/packaging/docs-facts.test.ts checks
 * that README.md, docs/deploy.md and examples/deploy/ say the same. Checked in this order.
 */
export const PLATFORMS: readonly PlatformFacts[] = [
  {
    name: "cloud-run",
    title: "Cloud Run",
    detectedBy: ["K_SERVICE", "K_REVISION"],
    needsAll: true,
    killAfter: 10_000,
    killSetting: "fixed",
    timeout: 8_000,
    drainDelay: 0,
    keepAliveTimeout: 620_000,
    why: "Cloud Run kills about 10 s after SIGTERM and stops routing before it; Google's front ends keep idle connections 600 s",
  },
  {
    name: "fly",
    title: "Fly.io",
    detectedBy: ["FLY_APP_NAME", "FLY_MACHINE_ID"],
    needsAll: false,
    killAfter: 5_000,
    killSetting: "kill_timeout",
    timeout: 3_000,
    drainDelay: 0,
    keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    why: "Fly.io's default kill_timeout is 5 s",
  },
  {
    name: "kubernetes",
    title: "Kubernetes",
    detectedBy: ["KUBERNETES_SERVICE_HOST"],
    needsAll: false,
    killAfter: 30_000,
    killSetting: "terminationGracePeriodSeconds",
    timeout: DEFAULT_TIMEOUT_MS,
    drainDelay: 5_000,
    keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    why:
      "Kubernetes removes the pod from endpoints while it sends SIGTERM; 5 s of 503 lets that propagate; 25 s fits the 30 s grace period",
  },
  {
    name: "ecs",
    title: "ECS / Fargate",
    detectedBy: ["ECS_CONTAINER_METADATA_URI_V4", "ECS_CONTAINER_METADATA_URI"],
    needsAll: false,
    killAfter: 30_000,
    killSetting: "stopTimeout",
    timeout: DEFAULT_TIMEOUT_MS,
    drainDelay: 0,
    keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    why: "ECS stopTimeout defaults to 30 s",
  },
  {
    name: "none",
    title: "anything else (`docker stop`)",
    detectedBy: [],
    needsAll: false,
    killAfter: 10_000,
    killSetting: "docker stop -t",
    timeout: DEFAULT_TIMEOUT_MS,
    drainDelay: 0,
    keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    why: "defaults",
  },
];

/** Reads the platform from its environment variables (first match in PLATFORMS wins). */
export function detectPlatform(env: (name: string) => string | undefined): Platform {
  const set = (name: string) => env(name) !== undefined;
  const found = PLATFORMS.find((p) => p.detectedBy.length > 0 && (p.needsAll ? p.detectedBy.every(set) : p.detectedBy.some(set)));
  const { name, timeout, drainDelay, keepAliveTimeout, why } = found ?? PLATFORMS.at(-1)!;
  return { name, timeout, drainDelay, keepAliveTimeout, why };
}

const SHELLS = ["sh", "bash", "dash", "ash", "zsh", "busybox"];
const PACKAGE_MANAGERS = ["npm", "npx", "yarn", "pnpm", "pnpx", "bunx", "corepack"];
/** Scripts a runtime runs when a package manager is started as `node .../npm-cli.js start`. */
const PACKAGE_MANAGER_SCRIPTS = ["npm-cli.js", "npx-cli.js", "yarn.js", "yarn.cjs", "pnpm.cjs", "pnpm.mjs"];
/** Container inits: they pass a signal to their child only (tini, docker run --init, ...). */
const CONTAINER_INITS = ["tini", "docker-init", "dumb-init", "catatonit"];
const base = (arg: string | undefined): string => (arg ?? "").split("/").pop() ?? "";
const isFile = (arg: string | undefined): boolean => arg !== undefined && /[./]/.test(arg);

type Kind = "shell" | "package manager" | "init" | "other";

/** What a command line is, for signal delivery. */
function kindOf(command: string[]): Kind {
  const [name, ...args] = [base(command[0]), ...command.slice(1)];
  if (SHELLS.includes(name)) return "shell";
  if (PACKAGE_MANAGERS.includes(name)) return "package manager";
  if (CONTAINER_INITS.includes(name)) return "init";
  const first = args.find((arg) => !arg.startsWith("-"));
  if (name === "node" || name === "nodejs") {
    // `node --flag value .../npm-cli.js start`: the npm script may follow flags with values.
    const manager = PACKAGE_MANAGERS.includes(base(first)) || args.some((arg) => PACKAGE_MANAGER_SCRIPTS.includes(base(arg)));
    return manager ? "package manager" : "other";
  }
  // `bun run start`, `bun start` and `deno task start` run package.json scripts; `bun server.ts`
  // and `deno run server.ts` run the runtime itself.
  if (name === "bun") {
    return (first === "run" ? !isFile(args[args.indexOf("run") + 1]) : first !== undefined && !isFile(first)) ? "package manager" : "other";
  }
  if (name === "deno") return first === "task" ? "package manager" : "other";
  return "other";
}

const MAX_SHOWN = 60;
const show = (command: string[]): string => {
  const text = command.join(" ");
  return `"${text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text}"`;
};

/**
 * A warning when signals may never reach this process. In a container, SIGTERM goes to PID 1 only:
 * a shell or a package manager as PID 1 (a Dockerfile's shell-form CMD, `CMD npm start`) may not
 * pass it on, and a shell anywhere between PID 1 and this process (npm runs every script through
 * `sh -c`) ends on SIGTERM without passing it on. A host's init (systemd) or a terminal signals the
 * whole process group, so only a PID 1 that is a shell, a package manager or a container init counts.
 * `origin.ancestors` runs from the parent up to PID 1.
 */
/** Whether PID 1 is a shell, package manager or container init: only then can the walk up to it end in a warning. */
export function initMayWithholdSignals(init: string[]): boolean {
  return kindOf(init) !== "other";
}

export function signalDeliveryWarning(origin: ProcessOrigin | undefined): string | undefined {
  if (origin === undefined || origin.pid === 1) return undefined;
  const chain = origin.ancestors;
  const init = chain[chain.length - 1];
  if (init === undefined || init.pid !== 1) return undefined; // the walk did not reach PID 1: cannot tell
  const initKind = kindOf(init.command);
  if (initKind === "other") return undefined;
  const between = chain.slice(0, -1).map((a) => kindOf(a.command));
  const shellBetween = between.includes("shell");
  if (initKind === "init" && !shellBetween && !between.includes("package manager")) return undefined;
  const reasons = [
    initKind === "shell" && "a shell as PID 1 does not pass SIGTERM on",
    initKind === "package manager" && "a package manager as PID 1 may not pass SIGTERM on",
    initKind === "init" && !shellBetween && "a package manager between PID 1 and this process may not pass SIGTERM on",
    shellBetween && "a shell between PID 1 and this process ends on SIGTERM without passing it on (npm runs scripts through sh -c)",
  ].filter(Boolean);
  const path = [...chain].reverse().map((a, i) => `${show(a.command)}${i === 0 ? " (PID 1)" : ""}`).join(" -> ");
  return `signals may never reach this process: it runs under ${path} -> this process (pid ${origin.pid}); ${
    reasons.join(", and ")
  }, so the drain may never start; use an exec-form CMD (["node", "server.js"]) so the runtime is PID 1, or an init such as tini that starts the runtime itself`;
}
