/**
 * A WebSocket client on a raw socket, so a test sees the closing handshake byte by byte: the
 * server's close frame and its code, our close frame in reply (RFC 6455 section 5.5.1), then
 * whether the TCP connection ended cleanly (FIN) or was reset.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";

export interface RawClose {
  /** The status code in the server's close frame (undefined: none came). */
  code: number | undefined;
  /** The server ended the TCP connection (FIN) after its close frame and our reply. */
  cleanEnd: boolean;
  /** The connection was reset (ECONNRESET, EPIPE), or ended before the server's close frame. */
  error: string | undefined;
  /** ms from the server's close frame to the end of the connection. */
  endedAfterMs: number;
  /** The server ended the connection before our close frame went out (it did not wait for it). */
  endedBeforeReply: boolean;
}

export class RawWebSocket {
  readonly #socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #closeAt = 0;
  #code: number | undefined;
  #replied = false;
  #replyTimer: ReturnType<typeof setTimeout> | undefined;
  /** How long to wait before answering the server's close frame. */
  replyDelayMs = 0;
  readonly closed: Promise<RawClose>;
  readonly messages: string[] = [];

  #closeFrameCame: (code: number) => void = () => {};
  /** The code of the server's close frame, as soon as it comes (before the connection ends). */
  readonly closeFrame: Promise<number> = new Promise((resolve) => (this.#closeFrameCame = resolve));

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      let error: string | undefined;
      let fin = false;
      socket.on("data", (chunk) => this.#read(chunk));
      let endedBeforeReply = false;
      socket.on("end", () => {
        fin = true;
        endedBeforeReply = !this.#replied;
      });
      socket.on("error", (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
      socket.on("close", () => {
        if (this.#code === undefined) error ??= "ended before a close frame";
        const endedAfterMs = performance.now() - this.#closeAt;
        resolve({ code: this.#code, cleanEnd: fin && error === undefined, error, endedAfterMs, endedBeforeReply });
      });
    });
  }

  /** Opens `ws://127.0.0.1:port/path`; resolves once the server answered 101. */
  static open(port: number, path = "/ws", ms = 5_000): Promise<RawWebSocket> {
    return new Promise((resolve, reject) => {
      // Half-open allowed: our close frame still goes out after the server's FIN, as a browser's does.
      const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no 101 within ${ms} ms`))), ms);
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        clearTimeout(timer);
        socket.off("data", onData);
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${head.slice(0, 200)}`));
        const client = new RawWebSocket(socket);
        const rest = Buffer.from(head.slice(end + 4), "latin1");
        if (rest.length > 0) client.#read(rest);
        resolve(client);
      };
      socket.on("data", onData);
      socket.once("error", reject);
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  }

  /** Ends the connection (a client that would have answered later). */
  destroy(): void {
    clearTimeout(this.#replyTimer);
    this.#socket.destroy();
  }

  send(text: string): void {
    this.#socket.write(frame(0x1, Buffer.from(text)));
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < 2) return;
      const opcode = this.#buffer[0]! & 0x0f;
      let length = this.#buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) [length, offset] = [this.#buffer.readUInt16BE(2), 4];
      else if (length === 127) [length, offset] = [Number(this.#buffer.readBigUInt64BE(2)), 10];
      if (this.#buffer.length < offset + length) return;
      const payload = this.#buffer.subarray(offset, offset + length);
      this.#buffer = this.#buffer.subarray(offset + length);
      if (opcode === 0x1) this.messages.push(payload.toString());
      if (opcode === 0x8 && this.#code === undefined) {
        this.#code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.#closeFrameCame(this.#code);
        this.#closeAt = performance.now();
        // Echo the status code, as a client completing the closing handshake does.
        const reply = frame(0x8, Buffer.from(payload.subarray(0, 2)));
        this.#replyTimer = setTimeout(() => {
          this.#replied = true;
          if (!this.#socket.destroyed) this.#socket.end(reply);
        }, this.replyDelayMs);
      }
    }
  }
}

/** A masked (client) frame, FIN set, payload under 126 bytes. */
function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}
