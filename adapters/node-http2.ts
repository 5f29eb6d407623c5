/**
 * HTTP/2 sessions through the drain, on node:http2 (https://nodejs.org/api/http2.html). When the
 * listener closes, each session gets a GOAWAY with the last stream id it processed and ends once
 * its open streams finish; the GOAWAY waits for two PING round trips, while the drain holds the
 * responses, so that no stream the client sent before it is refused.
 *
 * Why not the two GOAWAYs of RFC 9113 section 6.8 (2^31-1 first, the real id a round trip later):
 * Node exposes no nghttp2_submit_shutdown_notice, and nghttp2 ignores every new stream once any
 * other GOAWAY went out (session_allow_incoming_new_stream), so after `goaway(0, 2 ** 31 - 1)` the
 * streams still on their way stay unanswered until the real GOAWAY refuses them; and a session with
 * no stream open then stops reading (nghttp2/nghttp2#1617): its PING answer is never read.
 */
import type { Http2Session } from "node:http2";
import type { Socket } from "node:net";

/**
 * A client that leaves a PING unanswered this long gets its GOAWAY anyway. nghttp2 clients answer
 * at once; a busy machine can delay the answer past 1 s (refused streams seen in a suite run with
 * another beside it), and the drain's deadline bounds the wait anyway.
 */
export const PING_WAIT_MAX_MS = 3_000;

/** A TCP connection's peer, the same on its raw socket and on the TLS socket over it. */
export const peerOf = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

export class Http2Sessions {
  /** Each session with its connection's peer (taken at its start: a closing session lets go of its socket). */
  readonly #sessions = new Map<Http2Session, string>();
  #goingAway = false;

  get size(): number {
    return this.#sessions.size;
  }

  /** Each open session's connection's peer (peerOf). */
  peers(): Iterable<string> {
    return this.#sessions.values();
  }

  add(session: Http2Session): void {
    this.#sessions.set(session, peerOf(session.socket as Socket));
    session.once("close", () => this.#sessions.delete(session));
    // Begun after the drain's GOAWAYs (a TLS handshake that ended late; with node:cluster, a
    // connection handed over as the worker closed): without its own, the client would keep it
    // open and sending until the deadline.
    if (this.#goingAway) void goAwayAfterPings(session);
  }

  /** GOAWAY on every session, each after its PINGs; resolves once every one is sent. */
  goAway(): Promise<void> {
    this.#goingAway = true;
    return Promise.all([...this.#sessions.keys()].map(goAwayAfterPings)).then(() => {});
  }

  destroy(): void {
    for (const session of this.#sessions.keys()) session.destroy();
  }
}

/**
 * Two PINGs one after the other, then close() (the GOAWAY; the session ends with its streams). With
 * the responses held, a client waiting for them sends nothing new, and the second answer comes after
 * every stream it sent: the first can overtake streams it had queued (nghttp2 sends a PING answer
 * ahead of them), the second leaves the client after those.
 */
function goAwayAfterPings(session: Http2Session): Promise<void> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const goAway = () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      session.close();
      resolve();
    };
    timer = setTimeout(goAway, PING_WAIT_MAX_MS);
    // Not sent (the session is ending, too many PINGs outstanding): GOAWAY with what has arrived.
    const ping = (then: () => void) => {
      if (session.destroyed || session.closed || !session.ping((error) => (error ? goAway() : then()))) goAway();
    };
    ping(() => ping(goAway));
  });
}
