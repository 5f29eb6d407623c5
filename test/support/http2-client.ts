/**
 * A node:http2 client that keeps `streams` requests in flight until the server's GOAWAY, and tells
 * the refused streams it had written to the wire (HEADERS frames parsed from its own writes) from
 * those it never sent (nghttp2 holds back streams it had queued when it reads a GOAWAY).
 */
import http2 from "node:http2";
import { Duplex } from "node:stream";
import tls from "node:tls";

export interface InFlightResult {
  answered: number;
  /** Streams the client wrote, then got refused (REFUSED_STREAM, or above the GOAWAY's last id). */
  refusedSent: number;
  /** Streams refused that the client never wrote. */
  refusedUnsent: number;
  /** Streams that ended any other way than answered or refused. */
  failed: number;
}

const REFUSED_STREAM = 7;
const HEADERS = 1;

/** Opens one TLS HTTP/2 session to 127.0.0.1:port; calls `onAnswered(n)` after each answer. */
export function keepStreamsInFlight(
  port: number,
  path: string,
  streams: number,
  onAnswered: (answered: number) => void,
  ms: number,
): Promise<InFlightResult> {
  const socket = tls.connect({ host: "127.0.0.1", port, ALPNProtocols: ["h2"], rejectUnauthorized: false });
  const written = new Set<number>();
  let pending = Buffer.alloc(0);
  let prefaceSeen = false;
  // The client's own writes, frame by frame (after the 24-byte connection preface).
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      pending = Buffer.concat([pending, chunk]);
      if (!prefaceSeen && pending.length >= 24) [pending, prefaceSeen] = [pending.subarray(24), true];
      while (prefaceSeen && pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        if (pending[3] === HEADERS) written.add(pending.readUInt32BE(5) & 0x7fffffff);
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
  const result: InFlightResult = { answered: 0, refusedSent: 0, refusedUnsent: 0, failed: 0 };
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
          else if (stream.rstCode === REFUSED_STREAM) written.has(stream.id!) ? result.refusedSent++ : result.refusedUnsent++;
          else result.failed++;
          if (goneAway && inFlight === 0) finish();
          else refill();
        });
      }
    };
    refill();
  });
}
