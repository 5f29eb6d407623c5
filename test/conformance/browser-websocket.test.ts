/**
 * Chromium's WebSocket through the drain: the close it reports is 1001 and clean (wasClean: true,
 * which needs the closing handshake completed before the TCP connection ends). Skipped where
 * puppeteer-core or Chromium is not installed.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Fixture, selectedRuntimes } from "../support/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
// puppeteer-core's types are not needed here; a variable specifier keeps tsc from requiring them.
const PUPPETEER: string = "puppeteer-core";
// deno-lint-ignore no-explicit-any
const puppeteer: { default: { launch(options: object): Promise<any> } } | undefined = await import(PUPPETEER).catch(() => undefined);
// deno-lint-ignore no-explicit-any
type Browser = any;
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : puppeteer === undefined ? "puppeteer-core not installed" : false;

const started: Fixture[] = [];
after(() => started.forEach((f) => f.kill()));

describe("Chromium's WebSocket through the drain", { skip }, () => {
  let browser: Browser;
  const profile = mkdtempSync(path.join(os.tmpdir(), "sg-chromium-"));
  before(async () => {
    browser = await puppeteer!.default.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
      ],
    });
  });
  after(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  for (const runtime of selectedRuntimes()) {
    it(`on ${runtime.name}: 1001, wasClean true, exit 0`, async () => {
      const f = await Fixture.start(runtime, "test/fixtures/websocket.ts", { drainDelay: 300 });
      started.push(f);
      const page = await browser.newPage();
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
