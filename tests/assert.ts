/**
 * Minimal assertions for the test suite (JSR's @std/assert is unreachable from here). Built on node:assert's
 * deep strict equality so failures print a readable diff.
 */
import nodeAssert from "node:assert/strict";

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Asserts deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

/** Asserts that `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, msg?: string): void {
  if (!text.includes(part)) {
    throw new nodeAssert.AssertionError({
      message: msg ?? `expected text to include ${JSON.stringify(part)}, got:\n${text}`,
    });
  }
}

/** Asserts that `text` matches `re`. */
export function assertMatch(text: string, re: RegExp, msg?: string): void {
  nodeAssert.match(text, re, msg);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

/** Asserts that `fn` throws (an instance of `cls` when given) and returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  cls?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as E;
  }
  throw new nodeAssert.AssertionError({ message: "expected function to throw" });
}

/** Asserts that `fn` rejects (with an instance of `cls` when given) and returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    checkError(e, cls, includes);
    return e as E;
  }
  throw new nodeAssert.AssertionError({ message: "expected promise to reject" });
}

function checkError<E extends Error>(e: unknown, cls?: ErrorClass<E>, includes?: string): void {
  if (cls && !(e instanceof cls)) {
    throw new nodeAssert.AssertionError({ message: `expected ${cls.name}, got ${String(e)}` });
  }
  if (includes && !(e instanceof Error && e.message.includes(includes))) {
    throw new nodeAssert.AssertionError({
      message: `expected error including ${JSON.stringify(includes)}, got ${String(e)}`,
    });
  }
}
