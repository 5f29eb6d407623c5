/**
 * Health endpoints, answered before the app sees the request: /readyz says whether to send traffic
 * here (503 from the first moment of the drain, until every part has started, and while a part's
 * check fails), /livez whether the process is alive. `?verbose` lists each check, `?exclude=name`
 * skips one (an unknown name is ignored and named in a `warn:` line, as the Kubernetes API server does).
 */
import type { CheckResult, Readiness } from "../drain/readiness.ts";

export type HealthProbe = "ready" | "live";

/** Where the path starts in an absolute request URL ("http://host/path?q"). */
function pathStart(url: string): number {
  const scheme = url.indexOf("://");
  return url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
}

/** Whether the URL's path is exactly `path`, without allocating. */
function hasPath(url: string, start: number, path: string): boolean {
  if (!url.startsWith(path, start)) return false;
  const end = start + path.length;
  if (end === url.length) return true;
  const next = url.charCodeAt(end);
  return next === 63 /* ? */ || next === 35 /* # */;
}

/** Returns the matcher for the configured paths, or undefined when both are off. */
export function healthMatcher(
  paths: { ready: string | false; live: string | false },
): ((url: string) => HealthProbe | undefined) | undefined {
  const { ready, live } = paths;
  if (ready === false && live === false) return undefined;
  return (url) => {
    const start = pathStart(url);
    if (start < 0) return undefined;
    if (ready !== false && hasPath(url, start, ready)) return "ready";
    if (live !== false && hasPath(url, start, live)) return "live";
    return undefined;
  };
}

/** Bounds on what a probe's query can make us do or echo back. */
const EXCLUDES_MAX = 32;
const ECHO_MAX_CHARS = 64;

interface ProbeQuery {
  verbose: boolean;
  exclude: Set<string>;
}

function parseQuery(url: string): ProbeQuery {
  const mark = url.indexOf("?");
  if (mark < 0) return { verbose: false, exclude: new Set() };
  const hash = url.indexOf("#", mark);
  const params = new URLSearchParams(url.slice(mark + 1, hash < 0 ? undefined : hash));
  // `?exclude=a&exclude=b`, as the Kubernetes API server reads it.
  return { verbose: params.has("verbose"), exclude: new Set(params.getAll("exclude").slice(0, EXCLUDES_MAX)) };
}

/** The excluded names that match no check, quoted (control characters escaped), for the warn line. */
function unmatched(exclude: Set<string>, known: Set<string>): string | undefined {
  const names = [...exclude].filter((name) => !known.has(name)).map((name) => JSON.stringify(name.slice(0, ECHO_MAX_CHARS)));
  return names.length === 0 ? undefined : names.join(", ");
}

function textResponse(status: number, body: string, draining: boolean): Response {
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
  if (draining) headers.connection = "close";
  // HEAD too gets the body: the runtime sends its Content-Length and drops the body (RFC 9110 9.3.2),
  // where a null body said Content-Length: 0 (Bun, Deno) or nothing (Node).
  return new Response(body, { status, headers });
}

/** The Kubernetes API server's text form: one line per check, a warning if any, then the verdict. */
function verboseBody(probe: HealthProbe, lines: string[], warning: string | undefined, ok: boolean): string {
  if (warning !== undefined) lines.push(`warn: some health checks cannot be excluded: no matches for ${warning}`);
  lines.push(`${probe === "ready" ? "readyz" : "livez"} check ${ok ? "passed" : "failed"}`);
  return lines.join("\n") + "\n";
}

const line = (name: string, ok: boolean, reason?: string) => (ok ? `[+]${name} ok` : `[-]${name} failed: ${reason}`);

/**
 * The answer to a probe. /livez runs no check (a dead dependency must not restart the process).
 * /readyz is 503 while draining (at once, whatever the checks say) and until every registered part
 * has started; otherwise it runs the started parts' checks (shared and cached, see readiness.ts).
 * A worker that a reload replaces drains with the service still up: its /readyz answers as before.
 * While draining, the connection is closed after the answer, like every response.
 */
export function healthResponse(
  probe: HealthProbe,
  url: string,
  server: { readonly draining: boolean; inService?(): boolean },
  readiness: Readiness | undefined,
): Response | Promise<Response> {
  const query = parseQuery(url);
  if (probe === "live") {
    const body = query.verbose ? verboseBody(probe, [line("ping", true)], unmatched(query.exclude, new Set()), true) : "ok\n";
    return textResponse(200, body, server.draining);
  }
  const shuttingDown = () => server.draining && server.inService?.() !== true;
  const pendingAtArrival = shuttingDown() ? undefined : readiness?.startupPending();
  if (!query.verbose && (shuttingDown() || pendingAtArrival !== undefined)) {
    return textResponse(503, shuttingDown() ? "draining\n" : "starting\n", server.draining);
  }
  const registered = shuttingDown() ? [] : readiness?.checks() ?? [];
  const toRun = registered.filter((c) => c.started && !query.exclude.has(c.part.name)).map((c) => c.part);
  const answer = (results: CheckResult[]): Response => {
    // Read again: the drain may have started, or a part finished starting, while the checks ran.
    const down = shuttingDown();
    const pending = down ? undefined : readiness?.startupPending();
    const ok = !down && pending === undefined && results.every((r) => r.ok);
    if (!query.verbose) {
      return textResponse(
        ok ? 200 : 503,
        ok ? "ok\n" : down ? "draining\n" : pending !== undefined ? "starting\n" : "unready\n",
        server.draining,
      );
    }
    const byName = new Map(results.map((r) => [r.name, r]));
    const lines = [line("ping", true), line("shutdown", !down, "draining"), line("started", pending === undefined, pending)];
    for (const { part, started } of registered) {
      const result = byName.get(part.name);
      if (query.exclude.has(part.name)) lines.push(`[+]${part.name} excluded: ok`);
      else if (!started) lines.push(line(part.name, false, "not started"));
      else if (result !== undefined) lines.push(line(result.name, result.ok, result.reason));
    }
    // The built-in lines (ping, shutdown, started) cannot be excluded: a drain that ends the service always fails readiness.
    const known = new Set(registered.map((c) => c.part.name));
    return textResponse(ok ? 200 : 503, verboseBody(probe, lines, unmatched(query.exclude, known), ok), server.draining);
  };
  if (toRun.length === 0) return answer([]);
  return readiness!.run(toRun).then(answer);
}
