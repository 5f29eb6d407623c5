/** A server that cannot listen says why in one line that names the address. */
export class ListenError extends Error {
  override name = "ListenError";
  readonly code: string | undefined;
  readonly port: number;
  readonly hostname: string;

  constructor(cause: unknown, hostname: string, port: number) {
    const code = (cause as { code?: unknown } | null)?.code;
    const known = typeof code === "string" ? code : undefined;
    super(`cannot listen on ${hostname}:${port}: ${explain(known, cause, hostname, port)}`, { cause });
    this.code = known;
    this.port = port;
    this.hostname = hostname;
  }
}

function explain(code: string | undefined, cause: unknown, hostname: string, port: number): string {
  switch (code) {
    case "EADDRINUSE":
      return `port ${port} is already in use (EADDRINUSE)`;
    case "EADDRNOTAVAIL":
      return `address ${hostname} is not available on this machine (EADDRNOTAVAIL)`;
    case "EACCES":
    case "EPERM":
      return `permission denied; ports below 1024 need privileges (${code})`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `hostname ${hostname} does not resolve (${code})`;
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}
