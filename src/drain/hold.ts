/**
 * The hold, just before the listeners close in the drain: responses wait until no request has
 * arrived for QUIET_MS, so a busy keep-alive client sends the request it was about to send and
 * every connection still idle after that is truly idle.
 */
import type { Clock } from "../time/clock.ts";
import type { ServerPart } from "./parts.ts";

/** A timer that spans at least one I/O poll, so requests already sent are read first. */
export const QUIET_MS = 5;
/** The hold never lasts longer than this, however busy the servers are. */
export const HOLD_MAX_MS = 250;

/** Resolves once no request has arrived on any server for QUIET_MS (at most HOLD_MAX_MS), or when forced. */
export function waitForQuiet(clock: Clock, servers: readonly ServerPart[], forced: Promise<void>): Promise<void> {
  const arrived = () => servers.reduce((n, s) => n + s.traffic.arrived, 0);
  const until = clock.now() + HOLD_MAX_MS;
  return new Promise((resolve) => {
    let cancel = () => {};
    void forced.then(() => {
      cancel();
      resolve();
    });
    // A check that runs late means the event loop was busy: connections that arrived meanwhile
    // may wait unread (or unaccepted), so the silence proves nothing; look again.
    const check = (seen: number, due: number) => {
      const now = arrived();
      const late = clock.now() - due > QUIET_MS;
      if ((now === seen && !late) || clock.now() >= until) return resolve();
      // The time this check is due, taken now: taken when it runs, no check would ever be late.
      const nextDue = clock.now() + QUIET_MS;
      cancel = clock.setTimer(() => check(now, nextDue), QUIET_MS);
    };
    const first = arrived();
    const due = clock.now() + QUIET_MS;
    cancel = clock.setTimer(() => check(first, due), QUIET_MS);
  });
}

/** Holds every server's responses from now on; the returned function releases them all at once. */
export function holdResponses(servers: readonly ServerPart[]): () => void {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  for (const server of servers) server.traffic.held = held;
  return () => {
    for (const server of servers) server.traffic.held = undefined;
    release();
  };
}
