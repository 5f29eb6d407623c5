/**
 * The cut that ends a forced drain (the deadline passed or a second signal came): whatever is still
 * open is cut. Counted first, as it stood then, so a handler that returns later is not counted twice.
 */
import type { StartedServer } from "./parts.ts";
import { type CutCounts, snapshot } from "./report.ts";
import type { TaskTracker } from "./tasks.ts";

/** Cuts every server's open connections; `leftOpen` when a runtime can only do that by exiting (Deno). */
export function cutWhatIsLeft(servers: readonly StartedServer[], tasks: TaskTracker): { cut: CutCounts; leftOpen: boolean } {
  const cut: CutCounts = {
    at: snapshot(servers, tasks),
    requests: servers.reduce((n, s) => n + s.traffic.inFlight, 0),
    tasks: tasks.pending,
    connections: servers.reduce((n, s) => n + (s.listening.openConnections() ?? 0), 0),
  };
  let leftOpen = false;
  for (const server of servers) leftOpen = !server.listening.forceClose() || leftOpen;
  return { cut, leftOpen };
}
