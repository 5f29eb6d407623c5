/**
 * Chromium (Debian's /usr/bin/chromium, or $CHROMIUM) driven by puppeteer-core for the browser
 * tests: headless, a fresh profile per launch, nothing in the background that opens connections.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import type { Browser } from "puppeteer-core";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Launches Chromium; `close()` ends it and removes its profile. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = mkdtempSync(path.join(os.tmpdir(), "sg-chromium-"));
  const { default: puppeteer } = await import("puppeteer-core");
  const browser = await puppeteer.launch({
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
    timeout: 30_000,
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Inside a describe: Chromium launched before its tests and closed after; returns the browser. */
export function chromiumForSuite(): () => Browser {
  let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
  before(async () => void (chromium = await launchChromium()));
  after(() => chromium?.close());
  return () => chromium!.browser;
}
