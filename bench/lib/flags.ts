/** Command-line values after node:util parseArgs: range-checked, with errors that name the flag. */

/** `text` as an integer within [lowest, highest] (`fallback` when absent), or a RangeError naming the flag. */
export function integerFlag(name: string, text: string | undefined, fallback: number, lowest: number, highest: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < lowest || n > highest) {
    throw new RangeError(`--${name} must be an integer from ${lowest} to ${highest}, got ${JSON.stringify(text)}`);
  }
  return n;
}

/** A comma-separated list whose items are all in `allowed`, or a RangeError naming the flag. */
export function listFlag<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) throw new RangeError(`--${name}: ${JSON.stringify(item)} is not one of ${allowed.join(", ")}`);
  }
  if (!items.length) throw new RangeError(`--${name} is empty`);
  return items as T[];
}
