/**
 * Health endpoints, answered before the app sees the request: /readyz says whether to send traffic
 * here (503 from the first moment of the drain), /livez whether the process is alive.
 */
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

/** The answer to a probe. While draining, the connection is closed after it, like every response. */
export function healthResponse(probe: HealthProbe, draining: boolean, method: string): Response {
  const ok = probe === "live" || !draining;
  const body = method === "HEAD" ? null : ok ? "ok\n" : "draining\n";
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
  if (draining) headers.connection = "close";
  return new Response(body, { status: ok ? 200 : 503, headers });
}
