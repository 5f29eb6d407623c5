/**
 * Runs in-process checks in order on whichever runtime runs the file (test/adapters/*-check.ts):
 * one "ok" or "not ok" line each, then "N passed, N failed", which the test around them reads.
 */
export type Check = [name: string, run: () => Promise<void>];

/** Resolves with the number of failed checks; `label` prefixes each line. */
export async function runChecks(checks: Check[], label = ""): Promise<number> {
  const prefix = label === "" ? "" : `${label}: `;
  let passed = 0;
  let failed = 0;
  for (const [name, check] of checks) {
    try {
      await check();
      passed++;
      console.log(`ok - ${prefix}${name}`);
    } catch (error) {
      failed++;
      console.log(`not ok - ${prefix}${name}\n  ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed;
}
