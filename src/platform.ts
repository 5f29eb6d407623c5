/**
 * Platform-aware defaults: where a platform says who it is (through its environment variables),
 * the timeout and drain delay fit its kill and its routing. An explicit option always wins.
 */
import type { ProcessOrigin } from "./types.ts";

/** 5 s inside the 30 s that Kubernetes and ECS give between SIGTERM and SIGKILL. */
export const DEFAULT_TIMEOUT_MS = 25_000;
/** Longer than the 60 s idle timeout of AWS ALB and nginx upstream pools, with room for clock drift. */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 75_000;

export interface Platform {
  name: "kubernetes" | "cloud-run" | "fly" | "ecs" | "none";
  /** ms from the signal to the forced stop, inside the platform's kill. */
  timeout: number;
  /** ms to keep serving with /readyz at 503 while the platform stops routing here. */
  drainDelay: number;
  /** ms a kept-alive connection may stay idle: longer than the platform's balancer keeps it pooled. */
  keepAliveTimeout: number;
  /** Why these numbers, for the startup log line. */
  why: string;
}

/** Reads the platform from its environment variables (first match wins). */
export function detectPlatform(env: (name: string) => string | undefined): Platform {
  if (env("K_SERVICE") !== undefined && env("K_REVISION") !== undefined) {
    return {
      name: "cloud-run",
      timeout: 8_000,
      drainDelay: 0,
      keepAliveTimeout: 620_000,
      why: "Cloud Run kills about 10 s after SIGTERM and stops routing before it; Google's front ends keep idle connections 600 s",
    };
  }
  if (env("FLY_APP_NAME") !== undefined || env("FLY_MACHINE_ID") !== undefined) {
    return { name: "fly", timeout: 3_000, drainDelay: 0, keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS, why: "Fly.io's default kill_timeout is 5 s" };
  }
  if (env("KUBERNETES_SERVICE_HOST") !== undefined) {
    return {
      name: "kubernetes",
      timeout: DEFAULT_TIMEOUT_MS,
      drainDelay: 5_000,
      keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      why: "Kubernetes removes the pod from endpoints while it sends SIGTERM; 5 s of 503 lets that propagate; 25 s fits the 30 s grace period",
    };
  }
  if (env("ECS_CONTAINER_METADATA_URI_V4") !== undefined || env("ECS_CONTAINER_METADATA_URI") !== undefined) {
    return { name: "ecs", timeout: DEFAULT_TIMEOUT_MS, drainDelay: 0, keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS, why: "ECS stopTimeout defaults to 30 s" };
  }
  return { name: "none", timeout: DEFAULT_TIMEOUT_MS, drainDelay: 0, keepAliveTimeout: DEFAULT_KEEP_ALIVE_TIMEOUT_MS, why: "defaults" };
}

const SHELLS = ["sh", "bash", "dash", "ash", "zsh"];
const PACKAGE_MANAGERS = ["npm", "npx", "yarn", "pnpm", "bun", "deno"];
const base = (arg: string | undefined): string => (arg ?? "").split("/").pop() ?? "";

/**
 * A warning when signals may never reach this process: its parent is PID 1 and is a shell or a
 * package manager (a Dockerfile's shell-form CMD, or `CMD npm start`), which the kernel shields from
 * SIGTERM unless it handles it, and which may not pass the signal on.
 */
export function signalDeliveryWarning(origin: ProcessOrigin | undefined): string | undefined {
  if (origin === undefined || origin.pid === 1 || origin.ppid !== 1) return undefined;
  const [command, ...args] = origin.parent.map(base);
  const script = command === "node" ? base(args[0]) : command;
  const shell = SHELLS.includes(script ?? "");
  const manager = PACKAGE_MANAGERS.some((m) => script === m || script === `${m}-cli.js`);
  if (!shell && !manager) return undefined;
  return `this process was started by "${origin.parent.join(" ")}" running as PID 1: ${
    shell ? "a shell as PID 1 does not pass SIGTERM on" : "a package manager as PID 1 may not pass SIGTERM on"
  }, so the drain may never start; use an exec-form CMD (["node", "server.js"]) so the runtime is PID 1, or an init such as tini`;
}
