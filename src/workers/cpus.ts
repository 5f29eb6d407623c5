/**
 * How many CPUs this process may really use, for `workers: "auto"`: the cgroup's CPU quota (v2
 * `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`), the scheduler's affinity mask
 * (`Cpus_allowed_list` in /proc/self/status, what `taskset` sets), and the runtime's own count. The
 * smallest wins, rounded up, at least 1: a pod limited to 2 CPUs on a 64-core node gets 2.
 * Everything here is parsing; the adapter only reads the files (undefined when a file is absent).
 */

/** One limit and where it came from, for the `listening` line. */
export interface CpuLimit {
  cpus: number;
  from: string;
}

/** Reads a file as text; undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | undefined;

/** A cgroup path has at most this many levels walked up (each can carry its own quota). */
const MAX_CGROUP_DEPTH = 32;
/** A larger count than any machine has: bounds what a bogus file can claim. */
const MAX_CPUS = 65_536;

/**
 * cgroup v2 `cpu.max`: "<quota> <period>" in microseconds, or "max <period>" for no limit.
 * Returns the CPUs the quota allows (fractional), or undefined for no limit or a malformed file.
 */
export function parseCpuMax(text: string): number | undefined {
  const match = /^\s*(max|\d+)\s+(\d+)\s*$/.exec(text);
  if (!match || match[1] === "max") return undefined;
  return quotaCpus(Number(match[1]), Number(match[2]));
}

/** cgroup v1: `cpu.cfs_quota_us` (-1 for no limit) over `cpu.cfs_period_us`. */
export function parseCfsQuota(quotaText: string, periodText: string): number | undefined {
  const quota = Number(quotaText.trim());
  const period = Number(periodText.trim());
  if (!Number.isInteger(quota) || quota <= 0) return undefined;
  return quotaCpus(quota, period);
}

function quotaCpus(quota: number, period: number): number | undefined {
  if (!Number.isInteger(period) || period <= 0 || !Number.isInteger(quota) || quota <= 0) return undefined;
  return quota / period;
}

/**
 * The CPUs in a list such as "0-3,8-11" (`Cpus_allowed_list`, the kernel's cpuset list format):
 * their count, or undefined when malformed.
 */
export function parseCpuList(list: string): number | undefined {
  const text = list.trim();
  if (text === "") return undefined;
  let count = 0;
  for (const range of text.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (!match) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last >= MAX_CPUS) return undefined;
    count += last - first + 1;
  }
  return count;
}

/** `Cpus_allowed_list` out of /proc/self/status. */
export function affinityFromStatus(status: string): number | undefined {
  const line = /^Cpus_allowed_list:\s*(.*)$/m.exec(status);
  return line ? parseCpuList(line[1]!) : undefined;
}

/**
 * The cgroup paths of this process from /proc/self/cgroup: the v2 one ("0::/path") and the v1 one
 * of the cpu controller ("N:cpu,cpuacct:/path").
 */
export function cgroupPaths(text: string): { v2?: string; v1cpu?: string } {
  const paths: { v2?: string; v1cpu?: string } = {};
  for (const line of text.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, path] = match;
    if (id === "0" && controllers === "") paths.v2 = path;
    else if (controllers!.split(",").includes("cpu")) paths.v1cpu = path;
  }
  return paths;
}

/** The path and each of its parents, deepest first, bounded ("/a/b" gives "/a/b", "/a", ""). */
function andParents(path: string): string[] {
  const parts = path.split("/").filter(Boolean).slice(0, MAX_CGROUP_DEPTH);
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(i === 0 ? "" : `/${parts.slice(0, i).join("/")}`);
  return out;
}

/**
 * The cgroup quota limit: the smallest quota of the process's cgroup and its parents (inside a
 * container the namespace's root is the container's own cgroup), v2 first, then v1.
 */
export function cgroupLimit(read: ReadText): CpuLimit | undefined {
  const paths = cgroupPaths(read("/proc/self/cgroup") ?? "");
  let best: CpuLimit | undefined;
  const consider = (cpus: number | undefined, from: string) => {
    if (cpus !== undefined && (best === undefined || cpus < best.cpus)) best = { cpus, from };
  };
  for (const path of andParents(paths.v2 ?? "")) {
    const text = read(`/sys/fs/cgroup${path}/cpu.max`);
    if (text !== undefined) consider(parseCpuMax(text), `cgroup cpu.max ${text.trim()}`);
  }
  if (best !== undefined) return best;
  for (const path of andParents(paths.v1cpu ?? "")) {
    for (const dir of [`/sys/fs/cgroup/cpu${path}`, `/sys/fs/cgroup/cpu,cpuacct${path}`]) {
      const quota = read(`${dir}/cpu.cfs_quota_us`);
      const period = read(`${dir}/cpu.cfs_period_us`);
      if (quota !== undefined && period !== undefined) {
        consider(parseCfsQuota(quota, period), `cgroup cpu.cfs_quota_us ${quota.trim()}/${period.trim()}`);
      }
    }
  }
  return best;
}

/** What `"auto"` resolves to: the smallest limit, rounded up, at least 1, and where it came from. */
export function availableCpus(read: ReadText, runtimeCount: number): CpuLimit {
  const limits: CpuLimit[] = [];
  const quota = cgroupLimit(read);
  if (quota) limits.push(quota);
  const status = read("/proc/self/status");
  const affinity = status === undefined ? undefined : affinityFromStatus(status);
  if (affinity !== undefined) limits.push({ cpus: affinity, from: "affinity mask (Cpus_allowed_list)" });
  if (Number.isFinite(runtimeCount) && runtimeCount >= 1) limits.push({ cpus: runtimeCount, from: "the runtime's CPU count" });
  const smallest = limits.reduce<CpuLimit | undefined>((min, l) => (min === undefined || l.cpus < min.cpus ? l : min), undefined);
  if (smallest === undefined) return { cpus: 1, from: "no CPU count available" };
  return { cpus: Math.min(MAX_CPUS, Math.max(1, Math.ceil(smallest.cpus))), from: smallest.from };
}
