/** lifecycle.add checks a part as strictly as serveGracefully checks its options. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_TIMER_MS } from "../../src/time/duration.ts";
import { checkPart, DEFAULT_PART_TIMEOUT_MS, PART_KEYS } from "../../src/drain/parts.ts";
import { fakeWorld } from "./fakes.ts";

const rejects = (part: unknown, message: RegExp) =>
  assert.throws(() => checkPart(part), (error: unknown) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.match(error.message, message);
    return true;
  });

describe("parts", () => {
  it("FillsTheDefaultTimeoutAndKeepsTheHooks", () => {
    const stop = () => {};
    const part = checkPart({ name: "db", stop });
    assert.equal(part.timeout, DEFAULT_PART_TIMEOUT_MS);
    assert.equal(part.stop, stop);
    assert.equal(checkPart({ name: "db", timeout: MAX_TIMER_MS }).timeout, MAX_TIMER_MS);
  });

  it("RejectsAnUnknownKeyNamingIt", () => {
    rejects(
      { name: "db", timout: 100 },
      /^lifecycle\.add\("db"\): unknown option "timout" \(known: name, start, stop, timeout, check, checkTimeout\)$/,
    );
    rejects({ name: "db", onStop: () => {} }, /unknown option "onStop"/);
    assert.deepEqual([...PART_KEYS].slice(0, 4), ["name", "start", "stop", "timeout"]);
  });

  it("RejectsWrongTypesNamingTheKey", () => {
    rejects(null, /^lifecycle\.add: expected \{ name, start, stop, timeout/);
    rejects([], /got an array/);
    rejects("db", /got "db"/);
    rejects({ name: 5 }, /"name" must be a non-empty string/);
    rejects({ name: "db", start: "go" }, /^lifecycle\.add\("db"\): "start" must be a function/);
    rejects({ name: "db", timeout: "5s" }, /^lifecycle\.add\("db"\): "timeout" must be a positive number of ms, got "5s"/);
    rejects({ name: "db", timeout: 0 }, /"timeout" must be a positive number of ms, got 0/);
    rejects({ name: "db", timeout: Number.NaN }, /"timeout" must be a positive number/);
  });

  it("RejectsATimeoutAboveTheTimerLimit", () => {
    // The runtime would fire a longer timer after 1 ms: every start and stop would time out at once.
    rejects(
      { name: "db", timeout: MAX_TIMER_MS + 1 },
      /^lifecycle\.add\("db"\): "timeout" must be at most 2147483647 ms .*got 2147483648$/,
    );
    rejects({ name: "db", timeout: Infinity }, /"timeout" must be at most 2147483647 ms .*got Infinity$/);
  });

  it("LeavesTheLifecycleUntouchedWhenAPartIsBad", () => {
    const { lifecycle } = fakeWorld();
    assert.throws(() => lifecycle.add({ name: "db", retries: 3 } as never), /unknown option "retries"/);
    assert.equal(lifecycle.state, "idle");
  });
});
