/**
 * A connection accepted just before the listener closed has usually sent its request already, or
 * sends it within a round trip: a client writes its request right after the handshake. Closing it
 * as idle before then resets a client that sent a whole request. Adapters that can see connections
 * keep one that has not sent its first request open this long after it was accepted.
 */
export const FIRST_REQUEST_GRACE_MS = 100;
