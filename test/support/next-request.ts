/**
 * A kept-alive client stalled a moment between an answer and its next request, through a signal:
 * the connection, answered just before the signal, is kept for that request, which is answered
 * with `Connection: close`, and then closed cleanly. Shared by the plain-HTTP and the TLS suites.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { REQUEST_GRACE_MS } from "../../src/drain/request-grace.ts";
import type { Connection } from "./client.ts";

/** The client's stall between its answer and its next request (under REQUEST_GRACE_MS). */
export const STALL_MS = 30;

/**
 * Runs the scenario on `busy`, a connection just opened to `server`, up to the signal's answer; the
 * caller waits for the exit. A loaded machine that stretches the stall past most of the grace
 * gets no verdict (a `!!!` diagnostic).
 */
export async function nextRequestAfterTheSignal(t: TestContext, server: { signal(name: "SIGTERM"): number }, busy: Connection) {
  // Older than the grace a just-accepted connection gets for its first request.
  await sleep(REQUEST_GRACE_MS * 1.5);
  // The server counts the grace from the request, which it got after this moment.
  const sentAt = performance.now();
  assert.equal((await busy.request("GET", "/")).status, 200);
  const answeredAt = performance.now();
  server.signal("SIGTERM");
  await sleep(STALL_MS); // the client's stall: the stimulus, not a wait for the server
  // On time: within the grace with room to spare (a loaded machine delays this timer: no verdict then).
  if (performance.now() - sentAt >= REQUEST_GRACE_MS * 0.7) {
    return t.diagnostic(`!!! the stall ran ${Math.round(performance.now() - sentAt)} ms: too late to decide (machine busy)`);
  }
  assert.equal(busy.ended, false, `closed ${Math.round(busy.endedAt - answeredAt)} ms after the answer, within the grace`);
  const next = await busy.request("GET", "/");
  assert.equal(next.status, 200);
  assert.equal(next.headers.connection, "close");
  await busy.closed(3_000);
  assert.equal(busy.error, undefined, "closed cleanly after the answer");
}
