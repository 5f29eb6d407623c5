/**
 * The hold, just before the listeners close in the drain: responses wait until no request has
 * arrived for QUIET_MS, so a busy keep-alive client sends the request it was about to send and
 * every connection still idle after that is truly idle. A request that asked to close its connection
 * is no keep-alive client's: it neither restarts the quiet period nor waits (see the handler).
 */
import { REQUEST_GRACE_MS } from "./request-grace.ts";
import type { Clock } from "../time/clock.ts";
import type { ServerPart } from "./parts.ts";

/**
 * A timer that spans I/O polls, so requests already sent are read first. On a loaded machine a
 * request takes more than 5 ms from its client to the handler, and Bun's and Deno's close resets a
 * connection whose request it has not read yet (clients opening a connection per request through a
 * SIGTERM, a CPU-bound loop beside, load average 4-10: at 5 ms 7-35 of ~3,500 lost in most runs;
 * at 20 ms none in 10 of 10 at load 4-5, 0-11 at load 9).
 */
export const QUIET_MS = 20;
/** A check this late means the event loop was busy: the silence proves nothing. */
const LATE_MS = 5;
/**
 * The hold ends this long after the drain started at the latest, however busy the servers are. A
 * drain delay counts toward it: every answer during the delay closed its connection, so a delay
 * this long has already rotated every keep-alive client busy enough for the hold to matter, and
 * holding after it would only keep the listener open for new connections, to cut more of them at
 * the close (at 1,000 a second: the close 250 ms later than the runtime's own, measured).
 */
export const HOLD_MAX_MS = 250;

/**
 * After the hold's own time (a drain delay longer than HOLD_MAX_MS), it still waits, this long at
 * most, for an event loop that is on time: one that runs late (a loaded machine) has connections
 * waiting in the accept queue, which the listener's close would reset; a turn on time has accepted
 * them. Kept-alive arrivals no longer count then: the delay has rotated those clients.
 */
export const CATCH_UP_MAX_MS = 100;

/** When the hold ends: quiet counts from quietNotBefore; at the latest, for quiet and for an event loop on time. */
export interface HoldEnd {
  quietNotBefore: number;
  quietUntil: number;
  catchUpUntil: number;
}

/**
 * The hold's ends for a drain delay from `delayBegan` to `delayEnded`. `lastAnsweredAt`: the last
 * answer before the drain on a server whose close ends idle connections at once; its client may
 * send its next request up to REQUEST_GRACE_MS later, as Node's adapter allows each connection.
 */
export function holdEnd(delayBegan: number, delayEnded: number, lastAnsweredAt: number = -Infinity): HoldEnd {
  const quietUntil = delayBegan + HOLD_MAX_MS;
  return {
    quietNotBefore: Math.min(quietUntil, lastAnsweredAt + REQUEST_GRACE_MS),
    quietUntil,
    catchUpUntil: Math.max(quietUntil, delayEnded + CATCH_UP_MAX_MS),
  };
}

/**
 * Resolves once no kept-alive request has arrived on any server for `quietMs` (QUIET_MS unless the
 * runtime says otherwise) and `end.quietNotBefore` has passed, or `end.quietUntil` has, in a check
 * that ran on time; at `end.catchUpUntil` whatever happens; or when forced.
 */
export function waitForQuiet(
  clock: Clock,
  servers: readonly ServerPart[],
  forced: Promise<void>,
  end: HoldEnd,
  quietMs: number = QUIET_MS,
): Promise<void> {
  const arrived = () => servers.reduce((n, s) => n + s.traffic.keptAliveArrived, 0);
  return new Promise((resolve) => {
    let cancel = () => {};
    void forced.then(() => {
      cancel();
      resolve();
    });
    // The next check, after quietMs, or at quietNotBefore or quietUntil if one comes first. The time
    // it is due is taken now: taken when it runs, no check would ever be late.
    const lookAgain = (seen: number) => {
      // One reading of the clock: a second, later one put the wait below 0 (Bun and Deno warn of a
      // negative timeout on stderr).
      const at = clock.now();
      const boundary = [end.quietNotBefore, end.quietUntil].find((time) => time > at);
      const wait = boundary === undefined ? quietMs : Math.min(quietMs, boundary - at);
      const due = at + wait;
      cancel = clock.setTimer(() => check(seen, due), wait);
    };
    // A check that runs late means the event loop was busy: connections that arrived meanwhile
    // may wait unread (or unaccepted), so the silence proves nothing; look again.
    const check = (seen: number, due: number) => {
      const now = arrived();
      const late = clock.now() - due > LATE_MS;
      const quiet = (now === seen && clock.now() >= end.quietNotBefore) || clock.now() >= end.quietUntil;
      if ((quiet && !late) || clock.now() >= end.catchUpUntil) return resolve();
      lookAgain(now);
    };
    lookAgain(arrived());
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
