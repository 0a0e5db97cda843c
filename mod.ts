/**
 * Chest X-ray image–report retrieval: frozen BiomedCLIP encoders, a lightweight projector head
 * trained on the GPU with WGSL kernels (CLIP + supervised contrastive + BCE loss).
 *
 * @example
 * ```ts
 * import { getGpu } from "./mod.ts";
 * const gpu = await getGpu();
 * console.log(gpu.info.name);
 * ```
 *
 * @module
 */

export * from "./src/gpu/context.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/ops/l2norm.ts";
export { Rng } from "./src/util/rng.ts";
