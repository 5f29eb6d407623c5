/**
 * Chromium's WebSocket through the drain, on Node, Bun and Deno: the close it reports is 1001 and
 * clean (wasClean: true needs the closing handshake completed before the TCP connection ends).
 * Skipped where Chromium is not installed (test/conformance/browser.test.ts says how to install it).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { CHROMIUM, chromiumForSuite } from "../support/chromium.ts";
import { fixtureStarter, selectedRuntimes } from "../support/harness.ts";

const start = fixtureStarter("test/fixtures/websocket.ts");
const skip = !existsSync(CHROMIUM) && `Chromium is not installed at ${CHROMIUM}`;

describe("Chromium's WebSocket through the drain", { skip }, () => {
  const browser = chromiumForSuite();

  for (const runtime of selectedRuntimes()) {
    it(`on ${runtime.name}: 1001, wasClean true, exit 0`, async () => {
      const f = await start(runtime, { drainDelay: 300 });
      const page = await browser().newPage();
      try {
        await page.evaluate((url: string) =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(url);
            (globalThis as unknown as { wsClosed: Promise<unknown> }).wsClosed = new Promise((done) =>
              ws.addEventListener("close", (event) => done({ code: event.code, wasClean: event.wasClean }))
            );
            ws.addEventListener("open", () => resolve());
            ws.addEventListener("error", () => reject(new Error("websocket error before open")));
          }), `ws://127.0.0.1:${f.port}/ws`);
        f.signal("SIGTERM");
        const closed = await page.evaluate(() =>
          Promise.race([
            (globalThis as unknown as { wsClosed: Promise<unknown> }).wsClosed,
            new Promise((resolve) => setTimeout(() => resolve("no close within 10 s"), 10_000)),
          ])
        );
        assert.deepEqual(closed, { code: 1001, wasClean: true });
        assert.equal((await f.exit(10_000)).code, 0);
      } finally {
        await page.close();
      }
    });
  }
});
