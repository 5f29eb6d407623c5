/** One process-wide lifecycle per process, and the brand that replaces instanceof across copies. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asServerLifecycle, LIFECYCLE_BRAND, LIFECYCLE_PROTOCOL, type ServerLifecycle } from "../../src/drain/lifecycle-types.ts";
import { PROCESS_LIFECYCLE_KEY, processLifecycle } from "../../src/serve/process-lifecycle.ts";
import { fakeWorld } from "./fakes.ts";
import type { WorkerRole } from "../../src/workers/worker.ts";

describe("process lifecycle", { timeout: 10_000 }, () => {
  it("GivesEveryCopyTheLifecycleRuntimeAndWorkerRoleTheFirstCopyRegistered", () => {
    // A registry of its own stands in for globalThis (which the real registration never leaves).
    const registry = {};
    const world = fakeWorld();
    const role = { slot: 0 } as WorkerRole;
    let created = 0;
    const a = processLifecycle("node", () => (created++, { lifecycle: world.lifecycle, runtime: world.runtime, role }), registry);
    const b = processLifecycle("bun", () => {
      created++;
      const other = fakeWorld();
      return { lifecycle: other.lifecycle, runtime: other.runtime, role: undefined };
    }, registry);
    assert.equal(a.lifecycle, world.lifecycle);
    assert.equal(b.lifecycle, world.lifecycle, "the second copy made a lifecycle of its own");
    // In a worker, a second channel role would act on the primary's messages and its close alone.
    assert.equal(b.runtime, world.runtime, "the second copy drives a runtime of its own");
    assert.equal(b.role, role, "the second copy connected the worker channel again");
    assert.equal(created, 1);
    const entry = Object.getOwnPropertyDescriptor(registry, PROCESS_LIFECYCLE_KEY);
    assert.equal(entry?.writable, false, "a later copy could replace the registration");
    assert.equal(entry?.enumerable, false);
  });

  it("RefusesACopyOfAnotherProtocolLoudly", () => {
    const registry = { [PROCESS_LIFECYCLE_KEY]: { protocol: LIFECYCLE_PROTOCOL + 1, runtimeName: "node", lifecycle: {} } };
    let created = 0;
    assert.throws(
      () => processLifecycle("node", () => (created++, { ...fakeWorld(), role: undefined }), registry),
      new RegExp(
        `lifecycle protocol ${
          LIFECYCLE_PROTOCOL + 1
        }\\) already owns the process-wide lifecycle; this copy speaks protocol ${LIFECYCLE_PROTOCOL}`,
      ),
    );
    assert.equal(created, 0);
  });

  it("AcceptsALifecycleOfAnyCopyByItsBrand", () => {
    const ours = fakeWorld().lifecycle;
    assert.equal(asServerLifecycle(ours, "serveGracefully"), ours);
    // Another copy's class: not instanceof ours, same brand.
    const foreign = Object.defineProperty({}, LIFECYCLE_BRAND, { value: LIFECYCLE_PROTOCOL }) as ServerLifecycle;
    assert.equal(asServerLifecycle(foreign, "serveGracefully"), foreign);
    const newer = Object.defineProperty({}, LIFECYCLE_BRAND, { value: LIFECYCLE_PROTOCOL + 1 });
    assert.throws(
      () => asServerLifecycle(newer, "serveGracefully"),
      new RegExp(`another copy of serve-gracefully that speaks lifecycle protocol ${LIFECYCLE_PROTOCOL + 1}`),
    );
    assert.throws(() => asServerLifecycle({ shutdown() {} }, "serveGracefully"), /"lifecycle" must come from createLifecycle\(\)/);
  });

  it("RejectsALifecycleThatIsNotOneInServeGracefully", () => {
    const { serve, runtime } = fakeWorld();
    const app = { fetch: () => new Response("ok") };
    assert.throws(
      () => serve(app, { lifecycle: { shutdown: async () => ({}) } as never }),
      /"lifecycle" must come from createLifecycle\(\)/,
    );
    assert.equal(runtime.listenerCount(), 0);
  });
});
