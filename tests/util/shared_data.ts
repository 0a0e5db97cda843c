/**
 * The real data under `../shared/data/` (relative to the repository root): tests that need it
 * skip with a clear message when it is absent.
 *
 * @module
 */

/** Root of the shared data, relative to the repository root (where `deno task test` runs). */
export const SHARED_DATA = "../shared/data";

/**
 * `SHARED_DATA/relative` if it exists; otherwise warns that `what` is skipped and returns null.
 * @example
 * ```ts
 * const csv = sharedDataPath("iu-xray-reports/dataset.csv", "tokenizer corpus test");
 * Deno.test({ name: "corpus", ignore: csv === null, fn: () => {} });
 * ```
 */
export function sharedDataPath(relative: string, what: string): string | null {
  const path = `${SHARED_DATA}/${relative}`;
  try {
    Deno.statSync(path);
    return path;
  } catch {
    console.warn(`skipping ${what}: ${path} not found (the shared data is absent)`);
    return null;
  }
}
