/** Just enough of a Dockerfile reader for the deploy tests: instructions, and the exec-form command. */
export interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of a Dockerfile, with comments dropped and `\` continuations joined. */
export function instructions(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
      return { keyword: keyword!.toUpperCase(), args: args! };
    });
}

/**
 * The command the container runs: ENTRYPOINT + CMD, each of which must be in exec form (a JSON
 * array). Shell form would run `/bin/sh -c`, and the shell, not the runtime, would get the signal.
 */
export function execCommand(list: Instruction[]): string[] {
  const last = (keyword: string) => list.filter((i) => i.keyword === keyword).at(-1);
  const parts: string[] = [];
  for (const keyword of ["ENTRYPOINT", "CMD"]) {
    const found = last(keyword);
    if (!found) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(found.args);
    } catch {
      throw new Error(`${keyword} is in shell form (${found.args}); use exec form: ${keyword} ["runtime", "file"]`);
    }
    if (!Array.isArray(parsed) || parsed.some((p) => typeof p !== "string")) throw new Error(`${keyword} is not a JSON array of strings`);
    parts.push(...parsed);
  }
  return parts;
}
