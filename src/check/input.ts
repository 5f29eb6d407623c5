/**
 * One way to check what a user passed: every bad value is a TypeError that starts with who asked
 * (`serveGracefully`, `lifecycle.add("db")`, `createLifecycle`), names the option, says what it
 * accepts and shows what it got, the same way everywhere.
 */

/** How much of an array a message shows; the rest is cut with "...". */
const SHOWN_MAX_CHARS = 80;

/**
 * A value as an error message shows it: strings quoted, numbers and the like as they are, an array
 * with its (bounded) contents, never an object dumped (`an object`, `a function`).
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) {
    let items: string;
    try {
      items = JSON.stringify(value) ?? "[...]";
    } catch {
      items = "[...]";
    }
    return `an array ${items.length > SHOWN_MAX_CHARS ? `${items.slice(0, SHOWN_MAX_CHARS - 3)}...` : items}`;
  }
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/**
 * Throws the TypeError for a bad value: `owner: "option" must be <accepts>, got <value>`, or, for
 * the whole argument (no option), `owner: expected <accepts>, got <value>`.
 */
export function invalid(owner: string, option: string | undefined, accepts: string, got: unknown): never {
  const what = option === undefined ? "expected" : `"${option}" must be`;
  throw new TypeError(`${owner}: ${what} ${accepts}, got ${shown(got)}`);
}

/**
 * `value` as a plain object whose keys are all in `known`; anything else (null, an array, a
 * function, a primitive) or an unknown key is a TypeError. `option` names a nested object (its keys
 * are then shown as `option.key`; `orElse` says what else it accepts); without it, `value` is the
 * whole argument.
 */
export function knownKeys(
  owner: string,
  option: string | undefined,
  value: unknown,
  known: readonly string[],
  orElse = "",
): Record<string, unknown> {
  const prefix = option === undefined ? "" : `${option}.`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(owner, option, `${option === undefined ? "" : "an object "}{ ${known.join(", ")} }${orElse}`, value);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      throw new TypeError(`${owner}: unknown option "${prefix}${key}" (known: ${known.map((k) => prefix + k).join(", ")})`);
    }
  }
  return record;
}

/**
 * `true` only when `Keys` lists every key of `T` and nothing else; otherwise an object type that
 * names the missing or foreign keys. Give a constant of this type the value `true` next to a key
 * list, so an option added to the interface without its key fails the typecheck.
 */
export type KeyListOf<T, Keys extends readonly PropertyKey[]> = [Exclude<keyof T, Keys[number]> | Exclude<Keys[number], keyof T>] extends
  [never] ? true
  : { missing: Exclude<keyof T, Keys[number]>; foreign: Exclude<Keys[number], keyof T> };
