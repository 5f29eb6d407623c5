/** A Node cluster worker whose primary dies mid-write drains as an orphan, not as a crash. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { ROOT, selectedRuntimes } from "../support/harness.ts";

for (const runtime of selectedRuntimes().filter((r) => r.name === "node")) {
  it("a write to a primary that just died is the channel closing, not an uncaught exception", async () => {
    const child = spawn(runtime.command, runtime.args(path.join(ROOT, "test/fixtures/cluster-channel-gone.ts")), {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    // The worker shares the primary's stdout: the pipe ends once both are gone.
    const ended = new Promise<void>((resolve) => child.stdout.on("end", resolve));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await ended;
    clearTimeout(timer);
    const line = out.split("\n").find((l) => l.startsWith("{"));
    assert.deepEqual(JSON.parse(line ?? "{}"), { outcome: "closed" }, out);
  });
}
