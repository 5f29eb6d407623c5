/**
 * HTTP/1.1 over a raw socket, so the suite sees exactly what a client sees: the header, the body,
 * whether the server ended the connection cleanly (FIN) or reset it.
 */
import net from "node:net";
import tls from "node:tls";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** One keep-alive connection that sends requests one at a time. */
export class Connection {
  readonly socket: net.Socket;
  #buffer = "";
  #waiters: (() => void)[] = [];
  ended = false;
  endedAt = 0;
  error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.endedAt = performance.now();
      this.#wake();
    });
    socket.on("error", (error) => {
      this.error = error;
      this.#wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.endedAt ||= performance.now();
      this.#wake();
    });
  }

  /** Opens a connection; `tls: true` over TLS (any certificate, HTTP/1.1 by ALPN), ready once the handshake is done. */
  static open(port: number, ms = 5_000, { tls: secure = false } = {}): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] })
        : net.connect({ port, host: "127.0.0.1" });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, ms);
      socket.once(secure ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve(new Connection(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async #until<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
    const deadline = performance.now() + ms;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.error) throw this.error;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a request and reads one complete response (Content-Length or chunked). */
  async request(method: string, target: string, ms = 10_000): Promise<RawResponse> {
    this.socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
    return this.#until(() => this.#takeResponse(), ms, `the response to ${method} ${target}`);
  }

  /** Writes raw bytes (several requests back to back: pipelining). */
  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Reads the next complete response. */
  read(ms = 10_000): Promise<RawResponse> {
    return this.#until(() => this.#takeResponse(), ms, "a response");
  }

  /** Resolves once the server has ended the connection; rejects on a reset. */
  closed(ms: number): Promise<number> {
    return this.#until(() => (this.ended ? this.endedAt : undefined), ms, "the server to close the connection");
  }

  close(): void {
    this.socket.destroy();
  }

  #takeResponse(): RawResponse | undefined {
    const headEnd = this.#buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) {
      if (this.ended) throw new Error(`connection ended before a response${this.#buffer ? `: ${this.#buffer}` : ""}`);
      return undefined;
    }
    const [statusLine, ...headerLines] = this.#buffer.slice(0, headEnd).split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine!.split(" ")[1]);
    let rest = this.#buffer.slice(headEnd + 4);
    let body: string;
    if (headers["transfer-encoding"] === "chunked") {
      body = "";
      let offset = 0;
      for (;;) {
        const lineEnd = rest.indexOf("\r\n", offset);
        if (lineEnd < 0) return undefined;
        const size = parseInt(rest.slice(offset, lineEnd), 16);
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        if (size === 0) {
          rest = rest.slice(lineEnd + 4);
          break;
        }
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        offset = lineEnd + 2 + size + 2;
      }
    } else {
      const length = Number(headers["content-length"] ?? 0);
      if (rest.length < length) return undefined;
      body = rest.slice(0, length);
      rest = rest.slice(length);
    }
    this.#buffer = rest;
    return { status, headers, body, at: performance.now() };
  }
}

/** One request on a fresh connection (closed after). */
export async function request(port: number, method: string, target: string, ms = 10_000): Promise<RawResponse> {
  const connection = await Connection.open(port);
  try {
    return await connection.request(method, target, ms);
  } finally {
    connection.close();
  }
}

/** Whether a new connection to 127.0.0.1:port is accepted (it is closed at once). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Whether a new connection is refused. */
export const refused = async (port: number): Promise<boolean> => !(await canConnect(port));

/** What a one-shot exchange saw: the bytes the server sent until it closed, and how it closed. */
export interface Exchange {
  raw: string;
  status: number;
  body: string;
  reset: boolean;
}

/**
 * Sends exactly `bytes` on a fresh connection and reads until the server closes it (an HTTP/1.0
 * exchange without keep-alive), within `ms`.
 */
export function exchange(port: number, bytes: string, ms = 5_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => socket.write(bytes));
    let raw = "";
    let reset = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${ms} ms after ${JSON.stringify(bytes)}; got ${JSON.stringify(raw)}`));
    }, ms);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (raw += chunk));
    socket.on("error", () => (reset = true));
    socket.on("close", () => {
      clearTimeout(timer);
      const headEnd = raw.indexOf("\r\n\r\n");
      resolve({ raw, status: Number(raw.split(" ")[1]), body: headEnd < 0 ? "" : raw.slice(headEnd + 4), reset });
    });
  });
}
