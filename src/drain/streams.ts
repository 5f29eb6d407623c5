/**
 * Streams that end themselves when the drain closes the listeners (`endOnDrain`): an SSE client
 * gets a last event and a clean end instead of a cut at the deadline.
 */
import { invalid, knownKeys } from "../check/input.ts";
/** An SSE message, as hono/streaming's writeSSE takes it. */
export interface SSEMessage {
  event?: string;
  data: string;
  id?: string;
  retry?: number;
}

/** The slice of Hono's SSEStreamingApi that endOnDrain uses. */
export interface DrainableStream {
  readonly closed: boolean;
  readonly aborted: boolean;
  writeSSE(message: SSEMessage): Promise<void>;
  close(): Promise<void>;
  onAbort?(listener: () => void): void;
}

/** The keys an SSE message may have (writeSSE's). */
const SSE_MESSAGE_KEYS = ["event", "data", "id", "retry"] as const;

/**
 * What `endOnDrain` is given, checked at the call: a stream it can close (hono/streaming's), and a
 * `last` message writeSSE can send. A mistake shows there, not as a stream left open at the drain.
 */
export function checkDrainable(stream: unknown, last: unknown): void {
  const api = stream as Partial<Record<"close" | "writeSSE", unknown>> | null;
  if (typeof stream !== "object" || api === null || typeof api.close !== "function") {
    invalid("endOnDrain", undefined, "a stream with close() (hono/streaming's streamSSE or stream)", stream);
  }
  if (last === undefined) return;
  if (typeof api.writeSSE !== "function") invalid("endOnDrain", "last", "given only with a stream that has writeSSE() (streamSSE)", last);
  const message = knownKeys({ owner: "endOnDrain", option: "last", known: SSE_MESSAGE_KEYS }, last);
  if (typeof message.data !== "string") invalid("endOnDrain", "last.data", "a string", message.data);
  for (const key of ["event", "id"] as const) {
    if (message[key] !== undefined && typeof message[key] !== "string") invalid("endOnDrain", `last.${key}`, "a string", message[key]);
  }
  const retry = message.retry;
  if (retry !== undefined && !(typeof retry === "number" && Number.isInteger(retry) && retry >= 0 && retry <= 2 ** 31 - 1)) {
    invalid("endOnDrain", "last.retry", "a whole number of ms from 0 to 2147483647", retry);
  }
}

/**
 * When `drain` aborts: send `last` (if given) on `stream`, then close it. A stream already closed
 * or aborted is left alone; a client that leaves first releases the listener.
 */
export function endStreamOnAbort(drain: AbortSignal, stream: DrainableStream, last?: SSEMessage): void {
  const end = async (): Promise<void> => {
    if (stream.closed || stream.aborted) return;
    // The last event is the last: the handler's own events from now on are dropped, or one it sends
    // while ours is being written would land between it and the close (seen on Node).
    const write = stream.writeSSE?.bind(stream);
    if (write !== undefined) stream.writeSSE = () => Promise.resolve();
    try {
      if (last !== undefined) await write!(last);
    } finally {
      await stream.close();
    }
  };
  const onAbort = () => void end().catch(() => {});
  if (drain.aborted) return onAbort();
  // Let go of the listener when the stream ends first, however it ends: the client leaves
  // (onAbort) or the handler closes it (Hono's close() tells no abort subscriber). Otherwise every
  // stream that ever ran would stay referenced from the lifecycle's signal for the life of the process.
  const release = whenAborted(drain, onAbort);
  stream.onAbort?.(release);
  const close = stream.close.bind(stream);
  stream.close = () => {
    release();
    return close();
  };
}

/** The streams waiting for each drain's signal, and the one listener that ends them all. */
const waiting = new WeakMap<AbortSignal, { ends: Set<() => void>; onAbort: () => void }>();

/**
 * Calls `end` when `drain` aborts; the result lets go of it. One abort listener per signal, not one
 * per stream: Node warns of a leak (MaxListenersExceededWarning) past 10 on one AbortSignal, and
 * 11 SSE clients at once are no leak. The listener goes once no stream waits.
 */
function whenAborted(drain: AbortSignal, end: () => void): () => void {
  let entry = waiting.get(drain);
  if (entry === undefined) {
    const ends = new Set<() => void>();
    const onAbort = () => {
      waiting.delete(drain);
      for (const each of [...ends]) each();
    };
    entry = { ends, onAbort };
    waiting.set(drain, entry);
    drain.addEventListener("abort", onAbort, { once: true });
  }
  const { ends, onAbort } = entry;
  ends.add(end);
  return () => {
    if (!ends.delete(end) || ends.size > 0 || drain.aborted) return;
    drain.removeEventListener("abort", onAbort);
    waiting.delete(drain);
  };
}
