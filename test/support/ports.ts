/** Ports for tests that must name one before a child binds it (a command's --port, a proxy's config). */
import net from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** How many ports `onFreePort` tries before it gives up. */
export const PORT_ATTEMPTS = 5;

/**
 * `start` on a port that was free a moment ago; if something else bound it in between (other
 * tests and clients on the machine take ports all the time), `start` fails with a port in use
 * (`inUse` says so from its error) and is tried again on another port, up to PORT_ATTEMPTS ports.
 * `pick` is the port source (freePort; a test may pass a taken one first).
 */
export async function onFreePort<T>(
  start: (port: number) => Promise<T>,
  inUse: (error: unknown) => boolean,
  pick: () => Promise<number> = freePort,
): Promise<{ port: number; result: T; attempts: number }> {
  for (let attempt = 1;; attempt++) {
    const port = await pick();
    try {
      return { port, result: await start(port), attempts: attempt };
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || !inUse(error)) throw error;
    }
  }
}
