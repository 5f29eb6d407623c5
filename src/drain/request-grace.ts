/**
 * A client writes its request right after the handshake, and a busy keep-alive client writes its
 * next one right after an answer; a client stalled by a loaded machine can take tens of
 * milliseconds. Closing such a connection as idle in that time resets a client that sent (or is
 * sending) a whole request. Adapters that can see connections keep one open this long after it was
 * accepted, and after the last request it carried, while it is idle; where the close ends every
 * idle connection at once (Bun, Deno), the drain's hold lasts this long after the last answer.
 */
export const REQUEST_GRACE_MS = 100;
