/**
 * Streams that end themselves when the drain closes the listeners (`endOnDrain`): an SSE client
 * gets a last event and a clean end instead of a cut at the deadline.
 */
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

/**
 * When `drain` aborts: send `last` (if given) on `stream`, then close it. A stream already closed
 * or aborted is left alone; a client that leaves first releases the listener.
 */
export function endStreamOnAbort(drain: AbortSignal, stream: DrainableStream, last?: SSEMessage): void {
  const end = async (): Promise<void> => {
    if (stream.closed || stream.aborted) return;
    try {
      if (last !== undefined) await stream.writeSSE(last);
    } finally {
      await stream.close();
    }
  };
  const onAbort = () => void end().catch(() => {});
  if (drain.aborted) return onAbort();
  drain.addEventListener("abort", onAbort, { once: true });
  // Let go of the listener when the stream ends first, however it ends: the client leaves
  // (onAbort) or the handler closes it (Hono's close() tells no abort subscriber). Otherwise every
  // stream that ever ran would stay referenced from the lifecycle's signal for the life of the process.
  const release = () => drain.removeEventListener("abort", onAbort);
  stream.onAbort?.(release);
  const close = stream.close.bind(stream);
  stream.close = () => {
    release();
    return close();
  };
}
