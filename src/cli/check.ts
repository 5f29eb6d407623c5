/** What --check prints: every setting the server would run with, and where it came from. */
import type { Settings, Source } from "./settings.ts";
import type { EntryParts } from "./entry.ts";

const from = (source: Source, platform: string): string =>
  source === "platform" ? `platform ${platform}` : source.startsWith("$") ? `env ${source.slice(1)}` : source;

/** One `name: value (source)` line per setting; stable names, so scripts can grep them. */
export function checkText(
  file: string,
  entry: EntryParts,
  runtime: string,
  webSocketOption: boolean,
  settings: Settings,
  auto?: { cpus: number; from: string },
): string {
  const { resolved, sources } = settings;
  const platform = resolved.platform.name;
  const { requested } = resolved.workers;
  const workers = requested === "auto" && auto ? `${auto.cpus} (auto: ${auto.from})` : String(requested);
  const rows: [string, string, string][] = [
    ["entry", file, entry.kind + websocketNote(entry, webSocketOption) + (entry.setup ? ", lifecycle(lc)" : "")],
    ["runtime", runtime, ""],
    ["port", String(resolved.port), from(sources.port, platform)],
    ["host", resolved.hostname, from(sources.hostname, platform)],
    ["timeout", `${resolved.timeout} ms`, from(sources.timeout, platform)],
    ["drain-delay", `${resolved.drainDelay} ms`, from(sources.drainDelay, platform)],
    ["keep-alive-timeout", `${resolved.keepAliveTimeout} ms`, from(sources.keepAliveTimeout, platform)],
    ["ready-path", String(resolved.health.ready), from(sources.ready, platform)],
    ["live-path", String(resolved.health.live), from(sources.live, platform)],
    // Why its defaults are what they are; a row above says when a value is not the default.
    ["platform", platform, platform === "none" ? "" : `its defaults: ${resolved.platform.why}`],
    ["workers", String(workers), from(sources.workers, platform)],
    ["log-format", settings.logFormat, from(settings.logFormatSource, platform)],
  ];
  return rows.map(([name, value, source]) => `${`${name}:`.padEnd(20)}${value}${source ? ` (${source})` : ""}`).join("\n");
}

/** The entry's `websocket` option, and whether this runtime uses it (Deno's upgrades need none). */
function websocketNote(entry: EntryParts, webSocketOption: boolean): string {
  if (entry.websocket === undefined) return "";
  return webSocketOption ? ", websocket" : ", websocket (not used on Deno)";
}
