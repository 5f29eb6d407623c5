/**
 * A client writes its request right after the handshake, and a busy keep-alive client writes its
 * next one right after an answer; a client stalled by a loaded machine can take tens of
 * milliseconds. Closing such a connection as idle in that time resets a client that sent (or is
 * sending) a whole request. Adapters that can see connections keep one open this long after it was
 * accepted, and after the last request it carried, while it is idle.
 */
export const REQUEST_GRACE_MS = 100;
