/**
 * The process's output closed under it (a log shipper that died, `| head`), then the app's own
 * writes to it (GET /write-output): each fails with EPIPE, and none may end or drain the process.
 */
import assert from "node:assert/strict";
import { request } from "./client.ts";
import type { Fixture } from "./harness.ts";

export async function assertOutputWritesHarmless(f: Fixture, writes: number): Promise<void> {
  f.child.stdout!.destroy();
  f.child.stderr!.destroy();
  for (let i = 0; i < writes; i++) {
    assert.equal((await request(f.port, "GET", "/write-output")).body, "written");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal((await request(f.port, "GET", "/")).status, 200, "still serving: the failed writes started no drain");
}
