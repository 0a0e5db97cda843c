/**
 * One trained SYNTHETIC demo collection per test file, made on first use and deleted when the
 * process exits.
 *
 * @module
 */

import { type DemoCollection, trainDemoCollection } from "../../src/retrieval/demo_collection.ts";

let shared: Promise<DemoCollection> | null = null;

/**
 * The file's demo collection: 120 studies, heads trained 6 epochs (about 10 s on llvmpipe).
 * @example
 * ```ts
 * import { tryGetGpu } from "../../src/gpu/context.ts";
 * if (await tryGetGpu()) {
 *   const demo = await demoFixture();
 *   demo.imagePaths.length; // 120
 * }
 * ```
 */
export function demoFixture(): Promise<DemoCollection> {
  if (!shared) {
    shared = trainDemoCollection({ count: 120, epochs: 6 });
    const remove = (demo: DemoCollection) =>
      globalThis.addEventListener("unload", () => Deno.removeSync(demo.dir, { recursive: true }));
    shared.then(remove, () => {}); // a failure reaches every caller
  }
  return shared;
}
