/** One way to check what a user passed: the same wording and the same rendering of a value everywhere. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type KeyListOf, shown } from "../../src/check/input.ts";
import { checkPart } from "../../src/drain/parts.ts";
import { resolveOptions, SERVE_OPTION_KEYS } from "../../src/options/options.ts";
import { bindRuntime } from "../../src/serve/bind.ts";
import { FakeRuntime } from "./fakes.ts";

const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (error) {
    assert.ok(error instanceof TypeError, String(error));
    return error.message;
  }
  assert.fail("no TypeError");
};

describe("input checks", () => {
  it("ShowsAValueOneWay", () => {
    assert.equal(shown("5s"), '"5s"');
    assert.equal(shown(-1), "-1");
    assert.equal(shown(null), "null");
    assert.equal(shown(undefined), "undefined");
    assert.equal(shown(() => {}), "a function");
    assert.equal(shown({ info() {} }), "an object");
    assert.equal(shown(["SIGKILL"]), 'an array ["SIGKILL"]');
    // Bounded: a large array is cut, never dumped whole into a log line.
    const long = shown(Array.from({ length: 1_000 }, (_, i) => i));
    assert.ok(long.length <= 100 && long.endsWith("..."), long);
    const circular: unknown[] = [];
    circular.push(circular);
    assert.equal(shown(circular), "an array [...]");
    // A long string (a hostname, a part's name) is cut too: a message stays one readable line.
    assert.equal(shown("h".repeat(10_000)), `"${"h".repeat(197)}..."`);
    assert.ok(messageOf(() => checkPart({ name: "n".repeat(10_000), start: 5 })).length < 500);
  });

  it("WordsEveryEntryPointAlike", () => {
    const { createLifecycle } = bindRuntime(new FakeRuntime(), []);
    const messages = [
      messageOf(() => resolveOptions({ exit: "no" }, () => undefined)),
      messageOf(() => resolveOptions(5, () => undefined)),
      messageOf(() => checkPart({ name: "db", stop: "later" })),
      messageOf(() => checkPart("db")),
      messageOf(() => createLifecycle({ fatalErrors: "yes" } as never)),
      messageOf(() => createLifecycle(7 as never)),
    ];
    assert.deepEqual(messages, [
      'serveGracefully: "exit" must be a boolean, got "no"',
      `serveGracefully: expected { ${SERVE_OPTION_KEYS.join(", ")} }, got 5`,
      'lifecycle.add("db"): "stop" must be a function, got "later"',
      'lifecycle.add: expected { name, start, stop, timeout, check, checkTimeout }, got "db"',
      'createLifecycle: "fatalErrors" must be a boolean, got "yes"',
      "createLifecycle: expected { fatalErrors }, got 7",
    ]);
  });

  it("NamesUnknownKeysAlikeNestedOrNot", () => {
    const { createLifecycle } = bindRuntime(new FakeRuntime(), []);
    assert.equal(messageOf(() => createLifecycle({ clock: {} } as never)), 'createLifecycle: unknown option "clock" (known: fatalErrors)');
    assert.equal(
      messageOf(() => resolveOptions({ health: { startup: "/s" } }, () => undefined)),
      'serveGracefully: unknown option "health.startup" (known: health.ready, health.live)',
    );
  });

  it("KeyListsMatchTheirInterfacesAtCompileTime", () => {
    // Compile-time: `tsc -p test/tsconfig.json` fails if KeyListOf stops telling these apart.
    const complete: KeyListOf<{ a?: 1; b?: 2 }, readonly ["a", "b"]> = true;
    // @ts-expect-error a key of the interface is missing from the list
    const missing: KeyListOf<{ a?: 1; b?: 2 }, readonly ["a"]> = true;
    // @ts-expect-error the list names a key the interface does not have
    const foreign: KeyListOf<{ a?: 1 }, readonly ["a", "c"]> = true;
    assert.deepEqual([complete, missing, foreign], [true, true, true]);
  });
});
