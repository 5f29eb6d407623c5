/** Runs the Deno workers' channel checks (deno-channel-check.ts) in a Deno process. */
import path from "node:path";
import { it } from "node:test";
import { assertChecksPass, ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes().filter((r) => r.name === "deno")) {
  it("the Deno workers' channel on real processes and sockets", () => {
    assertChecksPass(runtime.command, ["run", "-A", path.join(ROOT, "test/adapters/deno-channel-check.ts")], 4, 60_000);
  });
}
