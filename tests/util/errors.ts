/**
 * Assertion that an async call fails with a message containing a given text (node:assert's
 * `rejects` matches whole messages or regexes; errors here are checked by the words they say).
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Awaits `fn` and asserts that it rejects with an Error whose message contains `text`.
 * @example
 * ```ts
 * await rejectsWith(() => Promise.reject(new Error("bad shape [2]")), "shape [2]");
 * ```
 */
export async function rejectsWith(fn: () => Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(fn, (e: Error) => {
    assert.ok(e.message.includes(text), `error message\n${e.message}\ndoes not contain\n${text}`);
    return true;
  });
}
