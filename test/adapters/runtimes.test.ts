/** Runs the in-process adapter checks (adapter-check.ts) on Node, Bun and Deno, each in its own process. */
import path from "node:path";
import { it } from "node:test";
import { assertChecksPass, ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes()) {
  it(`adapter checks on ${runtime.name}`, () => {
    // One check is Node's alone (its per-connection idle close).
    assertChecksPass(
      runtime.command,
      runtime.args(path.join(ROOT, "test/adapters/adapter-check.ts")),
      runtime.name === "node" ? 6 : 5,
      30_000,
    );
  });
}
