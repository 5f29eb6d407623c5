/**
 * Hono's upgradeWebSocket for the runtime that runs the fixture, and the server option it needs
 * (Bun's `websocket` handler, a `ws` server on Node, nothing on Deno).
 */
import type { UpgradeWebSocket } from "hono/ws";
import { type RuntimeName, runtimeName } from "./adapter.ts";

export interface WebSocketSetup {
  upgradeWebSocket: UpgradeWebSocket;
  /** Spread into serveGracefully's options. */
  serverOptions: Record<string, unknown>;
}

const setups: Record<RuntimeName, () => Promise<WebSocketSetup>> = {
  async bun() {
    const bun = (await import("hono/bun")).createBunWebSocket();
    return { upgradeWebSocket: bun.upgradeWebSocket as UpgradeWebSocket, serverOptions: { websocket: bun.websocket } };
  },
  async deno() {
    const deno = await import("hono/deno");
    return { upgradeWebSocket: deno.upgradeWebSocket as UpgradeWebSocket, serverOptions: {} };
  },
  async node() {
    const [nodeServer, ws] = await Promise.all([import("@hono/node-server"), import("ws")]);
    const server = new ws.WebSocketServer({ noServer: true });
    return { upgradeWebSocket: nodeServer.upgradeWebSocket as unknown as UpgradeWebSocket, serverOptions: { websocket: { server } } };
  },
};

export const webSocketSetup = (): Promise<WebSocketSetup> => setups[runtimeName]();
