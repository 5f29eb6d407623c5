/**
 * The deploy examples agree with the library: probes on /readyz and /livez, every platform's
 * grace period long enough for the shutdown timeout, and Dockerfiles that deliver the stop signal
 * to the runtime itself (exec form, no npm, no shell).
 *
 * The rule for every grace period: the timeout counts from the signal and includes the drain
 * delay, so the platform must wait at least timeout + MARGIN_MS before its SIGKILL. The timeout is
 * the one the server would really use there, platform-aware defaults included.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Service } from "kubernetes-models/v1/Service";
import { readFlags, resolveSettings } from "../../src/cli/settings.ts";
import { KILL_MARGIN_MS } from "../../src/process/platform.ts";
import { execCommand, instructions } from "./dockerfile.ts";
import { ROOT } from "./tools.ts";

const DEPLOY = path.join(ROOT, "examples/deploy");
const read = (file: string) => readFileSync(path.join(DEPLOY, file), "utf8");
/** Time for the process to exit after the forced stop, and for clock skew. */
const MARGIN_MS = KILL_MARGIN_MS;

type Env = Record<string, string>;
/**
 * The timeout and drain delay the server would run with: the serve-gracefully command reads
 * SHUTDOWN_TIMEOUT_MS and DRAIN_DELAY_MS when set, and the library fills in the rest from the
 * platform it detects (`platformEnv`: what the platform sets in every container).
 */
function shutdownSettings(env: Env, platformEnv: Env): { timeout: number; drainDelay: number } {
  const all: Env = { ...platformEnv, ...env };
  // Resolved as the command resolves them (flags absent, the environment as the platform sets it).
  const read = (name: string) => all[name];
  const entry = {
    app: { fetch: () => new Response() },
    port: undefined,
    hostname: undefined,
    websocket: undefined,
    kind: "hono app",
    setup: undefined,
  } as const;
  const { timeout, drainDelay } = resolveSettings(readFlags({}, read), entry, "server.mjs", read).resolved;
  // The drain delay is inside the timeout and must leave time for the drain itself.
  assert.ok(drainDelay + 5000 <= timeout, `drainDelay ${drainDelay} leaves under 5 s of the ${timeout} ms timeout`);
  return { timeout, drainDelay };
}

function assertGrace(what: string, graceMs: number, env: Env, platformEnv: Env): void {
  const { timeout } = shutdownSettings(env, platformEnv);
  assert.ok(graceMs >= timeout + MARGIN_MS, `${what} is ${graceMs} ms; needs >= timeout ${timeout} + ${MARGIN_MS} ms`);
}

/** What each platform sets in every container, and the library reads to pick its defaults. */
const KUBERNETES: Env = { KUBERNETES_SERVICE_HOST: "10.96.0.1" };
const CLOUD_RUN: Env = { K_SERVICE: "web", K_REVISION: "web-00001-abc", PORT: "8080" };
const FLY: Env = { FLY_APP_NAME: "serve-gracefully-example", FLY_MACHINE_ID: "e784079b449483" };
const ECS: Env = { ECS_CONTAINER_METADATA_URI_V4: "http://169.254.170.2/v4/abc" };

const envList = (list: { name: string; value: string }[] | undefined): Env =>
  Object.fromEntries((list ?? []).map(({ name, value }) => [name, value]));

// deno-lint-ignore no-explicit-any
function yamlDocuments(file: string): any[] {
  const documents = parseAllDocuments(read(file));
  for (const doc of documents) assert.deepEqual(doc.errors, [], `${file} does not parse`);
  return documents.map((doc) => doc.toJS());
}

describe("Kubernetes", () => {
  const docs = yamlDocuments("kubernetes.yaml");
  const deployment = docs.find((d) => d.kind === "Deployment");
  const service = docs.find((d) => d.kind === "Service");
  const pod = deployment?.spec.template.spec;
  const container = pod?.containers[0];

  it("ValidatesAgainstTheKubernetesSchema", () => {
    // kubernetes-models checks each object against the API's OpenAPI schema (types, required fields).
    const models: Record<string, new (data: never) => { validate(): void }> = { "apps/v1/Deployment": Deployment, "v1/Service": Service };
    assert.equal(docs.length, 2);
    for (const doc of docs) {
      const Model = models[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `no schema for ${doc.apiVersion} ${doc.kind}`);
      new Model(doc as never).validate();
    }
    // The validator does reject what the API server would: a command as a string, a probe period as text.
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].command = "node server.mjs";
    broken.spec.template.spec.containers[0].readinessProbe.periodSeconds = "2";
    assert.throws(() => new Deployment(broken).validate(), /command must be array[\s\S]*periodSeconds must be integer/);
  });

  it("RunsTheCommandInExecFormWithTheRuntimeAsPid1", () => {
    const command: string[] = container.command;
    assert.ok(Array.isArray(command), "the container's command is an exec-form array");
    assert.ok(["node", "bun", "deno"].includes(command[0]!), `the container's first process is ${command[0]}`);
    assert.ok(command.some((arg) => /serve-gracefully$/.test(arg)), `not the serve-gracefully command: ${command.join(" ")}`);
    assert.ok(!command.some((arg) => /^(npm|npx|yarn|pnpm|sh|bash|\/bin\/sh|-c)$/.test(arg)), `runs ${command.join(" ")}`);
    assert.deepEqual(command, execCommand(instructions(read(`Dockerfile.${command[0]}`))), "the same command as the Dockerfile");
  });

  it("HasADeploymentAndAServiceThatSelectsIt", () => {
    assert.ok(deployment && service);
    assert.deepEqual(service.spec.selector, deployment.spec.template.metadata.labels);
    const portNames = container.ports.map((p: { name: string }) => p.name);
    assert.ok(portNames.includes(service.spec.ports[0].targetPort), "the Service targets a port the container lacks");
  });

  it("ProbesReadinessOnReadyzAndLivenessOnLivez", () => {
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/livez");
    const port = container.ports.find((p: { name: string }) => p.name === container.readinessProbe.httpGet.port);
    assert.equal(port?.containerPort, Number(envList(container.env).PORT), "probes and PORT disagree");
  });

  it("GivesTheTimeoutTimeBeforeSigkillWithoutAPreStopSleep", () => {
    assertGrace("terminationGracePeriodSeconds", pod.terminationGracePeriodSeconds * 1000, envList(container.env), KUBERNETES);
    // The drain delay does what a preStop sleep would, and a preStop hook eats into the grace period.
    assert.equal(container.lifecycle?.preStop, undefined);
    const { drainDelay } = shutdownSettings(envList(container.env), KUBERNETES);
    const probe = container.readinessProbe;
    assert.ok(
      drainDelay >= probe.periodSeconds * probe.failureThreshold * 1000,
      "the drain delay is shorter than the readiness probe needs to fail",
    );
  });
});

describe("Cloud Run", () => {
  const [service] = yamlDocuments("cloud-run.yaml");
  const container = service.spec.template.spec.containers[0];

  it("ProbesStartupOnReadyzAndLivenessOnLivez", () => {
    assert.equal(container.startupProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/livez");
  });

  it("FitsTheTimeoutInCloudRunsTenSeconds", () => {
    // Cloud Run's SIGTERM-to-SIGKILL time is fixed at 10 s.
    assertGrace("Cloud Run's shutdown window", 10_000, envList(container.env), CLOUD_RUN);
  });
});

describe("Fly.io", () => {
  // deno-lint-ignore no-explicit-any
  const fly = parseToml(read("fly.toml")) as any;

  it("SendsSigtermAndWaitsForTheTimeout", () => {
    assert.equal(fly.kill_signal, "SIGTERM");
    assertGrace("kill_timeout", fly.kill_timeout * 1000, fly.env ?? {}, FLY);
  });

  it("RoutesByReadyzAndChecksLivez", () => {
    assert.equal(fly.http_service.internal_port, Number(fly.env.PORT));
    assert.ok(fly.http_service.checks.some((c: { path: string }) => c.path === "/readyz"));
    assert.equal(fly.checks.livez.path, "/livez");
    assert.ok(existsSync(path.join(DEPLOY, fly.build.dockerfile)));
  });
});

describe("ECS", () => {
  const task = JSON.parse(read("ecs-task-definition.json"));
  const container = task.containerDefinitions[0];

  it("StopTimeoutCoversTheTimeout", () => {
    // Fargate allows up to 120 s; the default is 30 s.
    assert.ok(container.stopTimeout <= 120);
    assertGrace("stopTimeout", container.stopTimeout * 1000, envList(container.environment), ECS);
  });

  it("HealthChecksLivez", () => {
    assert.match(container.healthCheck.command.join(" "), /\/livez\b/);
    assert.equal(container.portMappings[0].containerPort, Number(envList(container.environment).PORT));
  });
});

describe("Dockerfiles", () => {
  for (const runtime of ["node", "bun", "deno"]) {
    it(`Dockerfile.${runtime}RunsTheRuntimeAsPid1OnSigterm`, () => {
      const list = instructions(read(`Dockerfile.${runtime}`));
      const command = execCommand(list); // throws on shell form
      assert.equal(command[0], runtime, `the container's first process is ${command[0]}, not ${runtime}`);
      assert.ok(!command.some((arg) => /^(npm|npx|yarn|pnpm|sh|bash|\/bin\/sh|-c)$/.test(arg)), `runs ${command.join(" ")}`);
      assert.ok(command.includes("server.mjs") && existsSync(path.join(DEPLOY, "server.mjs")));
      // The serve-gracefully command, run by the runtime itself (no npx: npm would be PID 1).
      const cli = runtime === "deno" ? "npm:serve-gracefully" : "node_modules/.bin/serve-gracefully";
      assert.equal(command[runtime === "deno" ? command.indexOf("server.mjs") - 1 : 1], cli, `runs ${command.join(" ")}`);
      const stop = list.filter((i) => i.keyword === "STOPSIGNAL").at(-1);
      assert.equal(stop?.args, "SIGTERM");
      // The port the image announces is the one the server listens on.
      const port = /PORT=(\d+)/.exec(list.filter((i) => i.keyword === "ENV").map((i) => i.args).join(" "))?.[1];
      assert.equal(list.find((i) => i.keyword === "EXPOSE")?.args, port);
    });
  }

  // Each runtime's lock file and the install that refuses to resolve anything the lock lacks.
  const LOCKED = {
    node: { lock: "package-lock.json", install: /^npm ci\b/ },
    bun: { lock: "bun.lock", install: /^bun install\b.*--frozen-lockfile/ },
    deno: { lock: "deno.lock", install: /^deno install\b.*--frozen/ },
  } as const;
  for (const [runtime, { lock, install }] of Object.entries(LOCKED)) {
    it(`Dockerfile.${runtime}InstallsFromItsLockFile`, () => {
      const list = instructions(read(`Dockerfile.${runtime}`));
      const copied = list.filter((i) => i.keyword === "COPY").flatMap((i) => i.args.split(/\s+/).slice(0, -1));
      assert.ok(copied.includes(lock), `Dockerfile.${runtime} does not copy ${lock}`);
      const installs = list.filter((i) => i.keyword === "RUN" && /\b(install|ci)\b/.test(i.args));
      assert.ok(
        installs.length > 0 && installs.every((i) => install.test(i.args)),
        `Dockerfile.${runtime} installs without its lock: ${installs.map((i) => i.args).join("; ")}`,
      );
    });
  }

  it("RejectsShellFormAndNpmStart", () => {
    assert.throws(() => execCommand(instructions("FROM node\nCMD node server.mjs\n")), /shell form/);
    assert.deepEqual(execCommand(instructions('FROM node\nCMD ["npm", \\\n "start"]\n')), ["npm", "start"]);
  });
});
