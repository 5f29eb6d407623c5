/**
 * One way to check what a user passed: every bad value is a TypeError that starts with who asked
 * (`serveGracefully`, `lifecycle.add("db")`, `createLifecycle`), names the option, says what it
 * accepts and shows what it got, the same way everywhere.
 */

/** How much of an array a message shows; the rest is cut with "...". */
const SHOWN_MAX_CHARS = 80;
/** How much of a string a message shows (a name, a path): a message stays one readable line. */
const SHOWN_MAX_STRING_CHARS = 200;

/** A string cut to what a message shows, "..." marking the cut. */
export function clipped(text: string): string {
  return text.length > SHOWN_MAX_STRING_CHARS ? `${text.slice(0, SHOWN_MAX_STRING_CHARS - 3)}...` : text;
}

/**
 * A value as an error message shows it: strings quoted, numbers and the like as they are, an array
 * with its (bounded) contents, never an object dumped (`an object`, `a function`).
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(clipped(value));
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

/** An object a user passes: who asked, the option that holds it (none: the whole argument), its keys. */
export interface ObjectShape {
  owner: string;
  option?: string;
  known: readonly string[];
  /** What else the option accepts, said after the object: `" or false"`. */
  orElse?: string;
}

/** `value` as an object; anything else (null, an array, a function, a primitive) is a TypeError. */
export function asObject(shape: ObjectShape, value: unknown): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const object = `${shape.option === undefined ? "" : "an object "}{ ${shape.known.join(", ")} }${shape.orElse ?? ""}`;
    invalid(shape.owner, shape.option, object, value);
  }
  return value as Record<string, unknown>;
}

/**
 * `value` as an object whose keys are all known (see asObject); an unknown key is a TypeError that
 * names it (as `option.key` in a nested object) and lists the known ones.
 */
export function knownKeys(shape: ObjectShape, value: unknown): Record<string, unknown> {
  const record = asObject(shape, value);
  const prefix = shape.option === undefined ? "" : `${shape.option}.`;
  for (const key of Object.keys(record)) {
    if (!shape.known.includes(key)) {
      const known = shape.known.map((k) => prefix + k).join(", ");
      throw new TypeError(`${shape.owner}: unknown option "${prefix}${key}" (known: ${known})`);
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
