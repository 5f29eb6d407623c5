/** Runs the in-process adapter checks (adapter-check.ts) on Node, Bun and Deno, each in its own process. */
import path from "node:path";
import { it } from "node:test";
import { assertChecksPass, ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes()) {
  it(`adapter checks on ${runtime.name}`, () => {
    assertChecksPass(runtime.command, runtime.args(path.join(ROOT, "test/adapters/adapter-check.ts")), 4, 30_000);
  });
}
