/**
 * Where the examples listen: HOST and PORT, read the same way on Node, Bun and Deno. HOST defaults
 * to 0.0.0.0 (what a container needs; HOST=127.0.0.1 keeps a server to this machine); PORT to 3000
 * (serveGracefully reads PORT itself when no port is given; PORT=0 picks a free one).
 */
const runtime = globalThis as {
  Deno?: { env: { get(name: string): string | undefined } };
  process?: { env: Record<string, string | undefined> };
};

/** An environment variable, or undefined (also on Deno without --allow-env). */
export function env(name: string): string | undefined {
  if (runtime.Deno) {
    try {
      return runtime.Deno.env.get(name);
    } catch {
      return undefined;
    }
  }
  return runtime.process?.env[name];
}

/** HOST, or undefined for the library's default (0.0.0.0). */
export const hostname: string | undefined = env("HOST") || undefined;

/** A port from the environment variable `name`, or `fallback`. */
export function portFrom(name: string, fallback: number): number {
  const value = env(name);
  return value === undefined || value === "" ? fallback : Number(value);
}
