/**
 * A small HTTP/1.1 client on one keep-alive connection, in the open: it sends one request at a
 * time, reads the answer by its Content-Length, and reconnects only after the server said
 * `Connection: close` (or before the first request). A connection that ends any other way while a
 * request waits is a failure the caller sees, never a silent retry.
 */
import net from "node:net";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class KeepAliveClient {
  #socket: net.Socket | undefined;
  #buffer = "";
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;
  connections = 0;

  constructor(readonly port: number, readonly host = "127.0.0.1") {}

  /** Opens the connection now (the next request uses it). */
  async connect(): Promise<void> {
    if (this.#socket !== undefined && !this.#socket.destroyed) return;
    this.connections++;
    const socket = net.connect(this.port, this.host);
    this.#socket = socket;
    this.#buffer = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#parse();
    });
    const ended = (error?: Error) => {
      if (this.#socket === socket) this.#socket = undefined;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.reject(error ?? new Error("connection closed before the answer"));
    };
    socket.on("error", (error) => ended(error));
    socket.on("close", () => ended());
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
  }

  /** GET `path`, or POST `body` to it (text/plain). */
  async request(path: string, timeoutMs = 10_000, body?: string): Promise<Answer> {
    await this.connect();
    const socket = this.#socket!;
    const answer = new Promise<Answer>((resolve, reject) => (this.#waiting = { resolve, reject }));
    socket.write(
      body === undefined
        ? `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
        : `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((
      _,
      reject,
    ) => (timer = setTimeout(() => reject(new Error(`no answer to ${path} in ${timeoutMs} ms`)), timeoutMs)));
    try {
      const result = await Promise.race([answer, timeout]);
      if (result.headers.connection?.toLowerCase() === "close") {
        socket.destroy();
        if (this.#socket === socket) this.#socket = undefined;
      }
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#socket?.destroy();
  }

  /** The connection is open (not closed by the server since the last request). */
  get open(): boolean {
    return this.#socket !== undefined && !this.#socket.destroyed;
  }

  /** Bytes came that no request asked for (a 408, say), kept for the next request to read. */
  get unasked(): boolean {
    return this.#waiting === undefined && this.#buffer.length > 0;
  }

  #parse(): void {
    const end = this.#buffer.indexOf("\r\n\r\n");
    if (end < 0 || this.#waiting === undefined) return;
    const [statusLine, ...lines] = this.#buffer.slice(0, end).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"] ?? 0);
    if (this.#buffer.length < end + 4 + length) return;
    const body = this.#buffer.slice(end + 4, end + 4 + length);
    this.#buffer = this.#buffer.slice(end + 4 + length);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting.resolve({ status: Number(statusLine!.split(" ")[1]), headers, body });
  }
}
