/** Every option: its default, and a TypeError that names it for bad input. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_TIMER_MS } from "../../src/time/duration.ts";
import { DEFAULT_TIMEOUT_MS, resolveOptions } from "../../src/options/options.ts";

const noEnv = () => undefined;

describe("options", () => {
  it("FillsDocumentedDefaults", () => {
    const o = resolveOptions(undefined, noEnv);
    assert.equal(o.port, 3000);
    assert.equal(o.hostname, "0.0.0.0");
    assert.equal(o.timeout, DEFAULT_TIMEOUT_MS);
    assert.equal(o.drainDelay, 0);
    assert.deepEqual(o.signals, ["SIGTERM", "SIGINT"]);
    assert.deepEqual(o.health, { ready: "/readyz", live: "/livez" });
    assert.equal(o.exit, true);
    // Longer than the 60 s that ALB and nginx keep idle upstream connections pooled.
    assert.equal(o.keepAliveTimeout, 75_000);
    assert.equal(resolveOptions({ keepAliveTimeout: 3_000 }, noEnv).keepAliveTimeout, 3_000);
  });

  it("ReadsPortFromTheEnvironment", () => {
    assert.equal(resolveOptions({}, (n) => (n === "PORT" ? "8081" : undefined)).port, 8081);
    assert.equal(resolveOptions({ port: 9 }, (n) => (n === "PORT" ? "8081" : undefined)).port, 9);
    assert.throws(
      () => resolveOptions({}, () => "80x"),
      /"port" must be an integer from 0 to 65535 \(from the PORT environment variable\), got "80x"/,
    );
  });

  it("TurnsFeaturesOffWithFalse", () => {
    const o = resolveOptions({ signals: false, health: false, logger: false }, noEnv);
    assert.deepEqual(o.signals, []);
    assert.deepEqual(o.health, { ready: false, live: false });
    assert.equal(o.logger, false);
    assert.deepEqual(resolveOptions({ health: { live: false } }, noEnv).health, { ready: "/readyz", live: false });
  });

  const bad: [string, unknown, RegExp][] = [
    ["port", -1, /"port" must be an integer from 0 to 65535, got -1/],
    ["port", 70000, /"port"/],
    ["port", "3000", /"port" must be an integer from 0 to 65535, got "3000"/],
    ["port", 1.5, /"port"/],
    ["hostname", "", /"hostname" must be a non-empty string/],
    ["hostname", 127, /"hostname"/],
    ["timeout", -1, /"timeout" must be a positive number of ms, got -1/],
    // 0 is no "wait for ever": it would force every drain at once.
    ["timeout", 0, /"timeout" must be a positive number of ms, got 0/],
    ["timeout", Number.NaN, /"timeout"/],
    ["timeout", Infinity, /"timeout"/],
    ["timeout", "5s", /"timeout"/],
    ["drainDelay", -5, /"drainDelay" must be a non-negative number of ms/],
    // Above 2^31 - 1 ms every runtime fires the timer after 1 ms: the drain would be cut at once.
    ["timeout", 2_147_483_648, /"timeout" must be at most 2147483647 ms .*got 2147483648$/],
    ["timeout", Infinity, /"timeout" must be at most 2147483647 ms .*got Infinity$/],
    ["drainDelay", 2_147_483_648, /"drainDelay" must be at most 2147483647 ms/],
    ["drainDelay", Infinity, /"drainDelay" must be at most 2147483647 ms/],
    ["drainDelay", 30_000, /"drainDelay" must be at most 24000 ms: "timeout" \(25000 ms\) less 1000 ms/],
    // 10 ms short of the timeout was taken, and forced every drain.
    ["drainDelay", 24_990, /"drainDelay" must be at most 24000 ms/],
    ["signals", "SIGTERM", /"signals" must be false or an array of SIGTERM/],
    ["signals", ["SIGKILL"], /"signals"/],
    ["signals", true, /"signals"/],
    ["health", "/readyz", /"health" must be an object/],
    ["health", { ready: "readyz" }, /"health.ready" must be a path starting with "\/"/],
    ["health", { ready: "/x", live: "/x" }, /"health.ready" and "health.live" must be different paths, both are "\/x"$/],
    [
      "health",
      { ready: "/livez" },
      /"health.ready" and "health.live" must be different paths, both are "\/livez", the default of health.live$/,
    ],
    ["health", { startup: "/s" }, /"health.startup"/],
    ["onListen", "yes", /"onListen" must be a function/],
    ["exit", "no", /"exit" must be a boolean/],
    ["logger", 5, /"logger" must be false, a function, or an object/],
    ["logger", { info() {} }, /"logger"/],
    ["name", 3, /"name" must be a non-empty string/],
    ["keepAliveTimeout", 0, /"keepAliveTimeout" must be a positive number of ms, got 0/],
    ["keepAliveTimeout", 2 ** 31, /"keepAliveTimeout" must be at most 2147483647 ms/],
    ["keepAliveTimeout", -1, /"keepAliveTimeout" must be a positive number of ms/],
    ["keepAliveTimeout", "75s", /"keepAliveTimeout"/],
  ];
  for (const [option, value, message] of bad) {
    it(`RejectsBad_${option}_${typeof value === "object" ? JSON.stringify(value) : String(value)}`, () => {
      assert.throws(() => resolveOptions({ [option]: value }, noEnv), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /^serveGracefully: /);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it("AcceptsDurationsUpToTheTimerLimit", () => {
    const o = resolveOptions({ timeout: MAX_TIMER_MS, drainDelay: MAX_TIMER_MS - 1_000 }, noEnv);
    assert.equal(o.timeout, 2_147_483_647);
    assert.equal(o.drainDelay, 2_147_482_647);
  });

  it("RejectsUnknownOptionsSoTyposAreSeen", () => {
    assert.throws(() => resolveOptions({ timout: 5 }, noEnv), /unknown option "timout"/);
    assert.equal(resolveOptions({ tls: {} }, noEnv, ["tls"]).port, 3000);
  });

  it("RejectsNonObjects", () => {
    assert.throws(() => resolveOptions(5, noEnv), TypeError);
    assert.throws(() => resolveOptions(null, noEnv), TypeError);
  });
});
