/**
 * Each runtime has its own Hono upgradeWebSocket, and Node and Bun need a `websocket` server
 * option: this picks both for the runtime that runs the file.
 */
import type { UpgradeWebSocket } from "hono/ws";
import { runtimeName } from "./runtime.ts";

export interface WebSocketSupport {
  upgradeWebSocket: UpgradeWebSocket;
  /** Spread into serveGracefully's options. */
  serverOptions: Record<string, unknown>;
}

export async function webSocketSupport(): Promise<WebSocketSupport> {
  if (runtimeName === "bun") {
    const { upgradeWebSocket, websocket } = (await import("hono/bun")).createBunWebSocket();
    return { upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket, serverOptions: { websocket } };
  }
  if (runtimeName === "deno") {
    return { upgradeWebSocket: (await import("hono/deno")).upgradeWebSocket as UpgradeWebSocket, serverOptions: {} };
  }
  const { upgradeWebSocket } = await import("@hono/node-server");
  const { WebSocketServer } = await import("ws");
  return {
    upgradeWebSocket: upgradeWebSocket as unknown as UpgradeWebSocket,
    serverOptions: { websocket: { server: new WebSocketServer({ noServer: true }) } },
  };
}
