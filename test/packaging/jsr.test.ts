/**
 * The JSR package: `deno publish --dry-run` type-checks what would be published and rejects slow
 * types (exports without explicit types), a missing license and unresolvable imports.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { bin, requireFile, ROOT, run, said } from "./tools.ts";

it("DenoPublishDryRunSucceeds", async () => {
  const r = await run(requireFile(bin("deno")), ["publish", "--dry-run", "--allow-dirty"], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, said("deno publish --dry-run", r));
  const output = r.stdout + r.stderr;
  // A slow type, a missing license or a sloppy import fails the dry run with a non-zero exit.
  assert.match(output, /Success.*Dry run complete/);
  // Only the source a Deno user needs is published, with the docs: no tests, examples or build output.
  const files = [...output.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) => path.relative(ROOT, fileURLToPath(m[1]!)));
  assert.ok(files.some((f) => f === "adapters/deno.ts"), `adapters/deno.ts is not published:\n${output}`);
  const stray = files.filter((f) =>
    !/^(src|adapters)\/([\w-]+\/)?[\w.-]+\.ts$/.test(f) && !/^docs\/[\w-]+\.md$/.test(f) &&
    !["README.md", "CHANGELOG.md", "LICENSE", "deno.json"].includes(f)
  );
  // The README's links to the docs and the changelog resolve in the package.
  for (const file of ["docs/workers.md", "CHANGELOG.md"]) assert.ok(files.includes(file), `${file} is not published`);
  assert.deepEqual(stray, [], "files JSR users do not need");
});
