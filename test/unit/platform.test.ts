/** Platform-aware defaults and the warning for a process that may never get the signal. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveOptions } from "../../src/options.ts";
import { detectPlatform, signalDeliveryWarning } from "../../src/platform.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

describe("platform", () => {
  it("AppliesADrainDelayUnderKubernetes", () => {
    const o = resolveOptions({}, envOf({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }));
    assert.equal(o.platform.name, "kubernetes");
    assert.equal(o.drainDelay, 5_000);
    assert.equal(o.timeout, 25_000);
    assert.deepEqual(o.sources, { timeout: "default", drainDelay: "platform" });
  });

  it("FitsTheTimeoutInsideCloudRunsAndFlysKill", () => {
    assert.equal(resolveOptions({}, envOf({ K_SERVICE: "api", K_REVISION: "api-1" })).timeout, 8_000);
    assert.equal(resolveOptions({}, envOf({ FLY_APP_NAME: "api" })).timeout, 3_000);
    assert.equal(detectPlatform(envOf({ ECS_CONTAINER_METADATA_URI_V4: "http://x" })).name, "ecs");
    assert.equal(detectPlatform(envOf({})).name, "none");
  });

  it("OutlastsGoogleFrontEndsKeepAliveOnCloudRun", () => {
    const cloudRun = envOf({ K_SERVICE: "api", K_REVISION: "api-1" });
    assert.equal(resolveOptions({}, cloudRun).keepAliveTimeout, 620_000);
    assert.equal(resolveOptions({ keepAliveTimeout: 70_000 }, cloudRun).keepAliveTimeout, 70_000);
    const others: Record<string, string>[] = [{ KUBERNETES_SERVICE_HOST: "x" }, { FLY_APP_NAME: "api" }, { ECS_CONTAINER_METADATA_URI_V4: "http://x" }, {}];
    for (const env of others) {
      assert.ok(resolveOptions({}, envOf(env)).keepAliveTimeout > 60_000, JSON.stringify(env));
    }
  });

  it("LetsExplicitOptionsWin", () => {
    const o = resolveOptions({ drainDelay: 0, timeout: 9_000 }, envOf({ KUBERNETES_SERVICE_HOST: "x" }));
    assert.equal(o.drainDelay, 0);
    assert.equal(o.timeout, 9_000);
    assert.deepEqual(o.sources, { timeout: "option", drainDelay: "option" });
    // A platform delay gives way to a short explicit timeout instead of failing.
    assert.equal(resolveOptions({ timeout: 2_000 }, envOf({ KUBERNETES_SERVICE_HOST: "x" })).drainDelay, 1_000);
  });

  it("WarnsWhenAShellOrPackageManagerIsPid1", () => {
    assert.match(signalDeliveryWarning({ pid: 7, ppid: 1, parent: ["/bin/sh", "-c", "node server.js"] })!, /shell as PID 1/);
    assert.match(signalDeliveryWarning({ pid: 7, ppid: 1, parent: ["node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"] })!, /package manager/);
    assert.match(signalDeliveryWarning({ pid: 7, ppid: 1, parent: ["npm", "start"] })!, /exec-form CMD/);
  });

  it("StaysQuietWhenSignalsArrive", () => {
    assert.equal(signalDeliveryWarning({ pid: 1, ppid: 0, parent: [] }), undefined, "the runtime is PID 1");
    assert.equal(signalDeliveryWarning({ pid: 7, ppid: 1, parent: ["/sbin/tini", "--", "node", "s.js"] }), undefined, "an init forwards");
    assert.equal(signalDeliveryWarning({ pid: 7, ppid: 300, parent: ["bash"] }), undefined, "a terminal shell is not PID 1");
    assert.equal(signalDeliveryWarning(undefined), undefined);
  });
});
