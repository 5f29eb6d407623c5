/**
 * A node:http2 client that keeps `streams` requests in flight until the server's GOAWAY, and sorts
 * the refused streams by where their HEADERS frame was in its own writes (parsed frame by frame):
 * before its answer to the drain's second PING, after it, or never written (nghttp2 holds back
 * streams it had queued when it reads a GOAWAY).
 *
 * The server (adapters/node-http2.ts) sends its GOAWAY after two PING round trips: everything the
 * client wrote before its second PING answer has reached the server first (one TCP stream, in
 * order), so none of it may be refused. A stream written after that answer crossed the GOAWAY on
 * the wire: refusing it is HTTP/2's own race (RFC 9113 section 6.8; the client retries it, nothing
 * was processed). nghttp2 answers a PING as soon as it reads it, before the client's code has run
 * for the answers read with it, so a client starved of CPU writes its next streams after both
 * answers (measured with two CPU-bound loops beside: 96 such streams in 1 run of 10).
 */
import http2 from "node:http2";
import { Duplex } from "node:stream";
import tls from "node:tls";

export interface InFlightResult {
  answered: number;
  /** Streams written before the client's answer to the second PING, then refused: never allowed. */
  refusedSent: number;
  /** Streams written after that answer, then refused: they crossed the GOAWAY on the wire. */
  refusedAfterPings: number;
  /** Streams refused that the client never wrote. */
  refusedUnsent: number;
  /** Streams that ended any other way than answered or refused. */
  failed: number;
}

const REFUSED_STREAM = 7;
const HEADERS = 1;
const PING = 6;
const ACK = 1;
/** The PINGs the Node adapter's drain sends before its GOAWAY. */
const DRAIN_PINGS = 2;

/** Opens one TLS HTTP/2 session to 127.0.0.1:port; calls `onAnswered(n)` after each answer. */
export function keepStreamsInFlight(
  port: number,
  path: string,
  streams: number,
  onAnswered: (answered: number) => void,
  ms: number,
): Promise<InFlightResult> {
  const socket = tls.connect({ host: "127.0.0.1", port, ALPNProtocols: ["h2"], rejectUnauthorized: false });
  /** Each written stream, with how many PING answers the client had written before its HEADERS. */
  const written = new Map<number, number>();
  let pingAnswers = 0;
  let pending = Buffer.alloc(0);
  let prefaceSeen = false;
  // The client's own writes, frame by frame (after the 24-byte connection preface).
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaceSeen && pending.length >= 24) [pending, prefaceSeen] = [pending.subarray(24), true];
      while (prefaceSeen && pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        if (pending[3] === HEADERS) written.set(pending.readUInt32BE(5) & 0x7fffffff, pingAnswers);
        if (pending[3] === PING && (pending[4]! & ACK) !== 0) pingAnswers++;
        pending = pending.subarray(9 + pending.readUIntBE(0, 3));
      }
      socket.write(chunk, callback);
    },
    final: (callback) => socket.end(callback),
  });
  socket.on("data", (data) => wire.push(data));
  socket.on("end", () => wire.push(null));
  socket.on("close", () => wire.destroy());
  socket.on("error", () => {});
  const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => wire });
  session.on("error", () => {});
  const result: InFlightResult = { answered: 0, refusedSent: 0, refusedAfterPings: 0, refusedUnsent: 0, failed: 0 };
  let inFlight = 0;
  let goneAway = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no GOAWAY, or streams still open, after ${ms} ms: ${JSON.stringify({ ...result, inFlight })}`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    session.on("goaway", () => (goneAway = true));
    const refill = () => {
      while (!goneAway && !session.closed && inFlight < streams) {
        inFlight++;
        const stream = session.request({ ":path": path });
        let answered = false;
        stream.resume();
        stream.on("end", () => (answered = true));
        stream.on("error", () => {});
        stream.on("close", () => {
          inFlight--;
          if (answered) onAnswered(++result.answered);
          else if (stream.rstCode !== REFUSED_STREAM) result.failed++;
          else if (!written.has(stream.id!)) result.refusedUnsent++;
          else if (written.get(stream.id!)! < DRAIN_PINGS) result.refusedSent++;
          else result.refusedAfterPings++;
          if (goneAway && inFlight === 0) finish();
          else refill();
        });
      }
    };
    refill();
  });
}
