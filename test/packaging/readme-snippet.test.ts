/**
 * The README's first program runs as written: "The same app on each runtime", copied out of the
 * README into a file inside this package (so `serve-gracefully` resolves to the built dist/ by the
 * package's own name), started with PORT=0 on Node (tsx), Bun and Deno, sent one order, then
 * SIGTERM: the order is saved before the process exits 0.
 *
 * Needs a current build (`npm run build`); `npm test` builds first.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bin, requireFile, ROOT } from "./tools.ts";

let dir = "";
let file = "";

before(() => {
  requireFile(path.join(ROOT, "dist/node.js"), "run npm run build");
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The same app on each runtime"));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(snippet?.includes("serveGracefully"), 'README has no "The same app on each runtime" snippet');
  dir = mkdtempSync(path.join(ROOT, ".readme-snippet-"));
  file = path.join(dir, "app.ts");
  writeFileSync(file, snippet!);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const RUNTIMES = {
  node: () => [process.execPath, "--import", "tsx"],
  bun: () => [requireFile(bin("bun"))],
  deno: () => [requireFile(bin("deno")), "run", "-A", "--no-lock", "--quiet"],
} as const;

describe("the README's first program", { concurrency: true, timeout: 60_000 }, () => {
  for (const [runtime, command] of Object.entries(RUNTIMES)) {
    it(`runs as written on ${runtime}`, async () => {
      const [executable, ...args] = command();
      const child = spawn(executable!, [...args, file], {
        cwd: ROOT,
        env: { ...process.env, PORT: "0", NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`not listening within 15 s:\n${output}`)), 15_000);
          const onData = (chunk: string) => {
            output += chunk;
            const found = /POST http:\/\/localhost:(\d+)\/orders/.exec(output);
            if (found) {
              clearTimeout(timer);
              resolve(Number(found[1]));
            }
          };
          child.stdout.setEncoding("utf8").on("data", onData);
          child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
          void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${output}`)));
        });
        const response = await fetch(`http://127.0.0.1:${port}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id: 7 }),
        });
        assert.equal(response.status, 202);
        assert.deepEqual(await response.json(), { accepted: true });
        child.kill("SIGTERM");
        const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("no exit within 10 s"), 10_000))]);
        assert.equal(code, 0, output);
        assert.match(output, /saved \{\s*id: 7,?\s*\}/, `the acknowledged order was not saved before exit:\n${output}`);
        const end = output.split("\n").filter((line) => line.includes('"drain.end"')).map((line) => JSON.parse(line));
        assert.equal(end.length, 1, output);
        assert.equal(end[0].tasks.completed, 1, output);
      } finally {
        child.kill("SIGKILL");
      }
    });
  }
});
