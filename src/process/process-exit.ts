/**
 * One exit per process however many lifecycles drain in it: the process lifecycle and a
 * `createLifecycle()` beside it both drain on SIGTERM, and the first to finish must not end the
 * process under the other (its requests cut, its parts never stopped, its report never said). The
 * exit waits until no drain is left, then ends the process once, with the highest exit code any
 * drain reported. Shared on globalThis, as the process lifecycle is, by every copy of the package.
 */

/** Where a drain says it began and ended. */
export interface ExitGate {
  /** A drain begins: the process does not end before it does. */
  enter(drain: object): void;
  /**
   * A drain ended with its report's `code`; `exit` when it would end the process. The exit runs
   * once no drain is left, with the highest code of the drains that ended meanwhile.
   */
  leave(drain: object, code: number, exit: ((code: number) => void) | undefined): void;
  /** No other drain is under way: an exit now would be this drain's own, at once. */
  alone(drain: object): boolean;
}

export function createExitGate(): ExitGate {
  const draining = new Set<object>();
  let worst = 0;
  let exit: ((code: number) => void) | undefined;
  return {
    enter(drain) {
      draining.add(drain);
    },
    leave(drain, code, exitWith) {
      draining.delete(drain);
      worst = Math.max(worst, code);
      exit ??= exitWith;
      if (draining.size > 0) return;
      const [run, final] = [exit, worst];
      [exit, worst] = [undefined, 0];
      run?.(final);
    },
    alone(drain) {
      return draining.size === 0 || (draining.size === 1 && draining.has(drain));
    },
  };
}

/** Symbol.for: the same key in every copy and realm of this process. */
const EXIT_GATE_KEY = Symbol.for("serve-gracefully.exit-gate.v1");

/** The process's exit gate: the one another copy left on globalThis, else a new one left there. */
export function processExitGate(registry: object = globalThis): ExitGate {
  const global = registry as Record<symbol, ExitGate | undefined>;
  const found = global[EXIT_GATE_KEY];
  if (found !== undefined) return found;
  const gate = createExitGate();
  Object.defineProperty(global, EXIT_GATE_KEY, { value: gate, configurable: false, enumerable: false, writable: false });
  return gate;
}
