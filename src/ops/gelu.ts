/**
 * GELU (erf form, as PyTorch's default `nn.GELU()`) on the GPU (`kernels/gelu.wgsl`); twin in
 * `src/reference/gelu.ts`.
 *
 * @module
 */

import type { Command, GpuContext } from "../gpu/context.ts";
import type { GpuView, KernelSpec } from "../gpu/kernel.ts";
import type { GeluShape } from "../reference/gelu.ts";
import { GRID_LIBRARY } from "./grid.ts";
import { checkLength, quadDispatch } from "./shapes.ts";

export type { GeluShape } from "../reference/gelu.ts";

const WG = 256;

/** `gelu_forward`: y = gelu(x). */
export const GELU_FORWARD: KernelSpec = {
  name: "gelu_forward",
  file: "gelu.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "gelu_forward",
  workgroupSize: [WG],
  uniforms: { length: "u32" },
  bindings: { x: "read", y: "read_write" },
};

/** `gelu_backward`: dx += dy · gelu'(x). */
export const GELU_BACKWARD: KernelSpec = {
  name: "gelu_backward",
  file: "gelu.wgsl",
  libraries: [GRID_LIBRARY],
  entryPoint: "gelu_backward",
  workgroupSize: [WG],
  uniforms: { length: "u32" },
  bindings: { x: "read", dy: "read", dx: "read_write" },
};

/**
 * Prepares `y = 0.5 · x · (1 + erf(x/√2))` over `length` elements.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([-1, 0, 1, 2])), y = gpu.storage(4);
 *   await gpu.run(geluForward(gpu, x, y, { length: 4 }));
 *   await gpu.read(y); // ≈ [-0.1587, 0, 0.8413, 1.9545]
 * }
 * ```
 */
export function geluForward(gpu: GpuContext, x: GpuView, y: GpuView, shape: GeluShape): Command[] {
  const { length } = shape;
  checkLength("gelu_forward", { x: [x, length], y: [y, length] });
  const { views, grid } = quadDispatch(gpu, "gelu_forward", { x, y }, length, WG);
  return [gpu.prepare(GELU_FORWARD, { uniforms: { length }, bindings: views }, grid)];
}

/**
 * Prepares `dx += dy · gelu'(x)` over `length` elements.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(new Float32Array([-1, 0, 1, 2]));
 *   const dy = gpu.storage(new Float32Array([1, 1, 1, 1])), dx = gpu.storage(4); // dx accumulates
 *   await gpu.run(geluBackward(gpu, x, dy, dx, { length: 4 }));
 *   await gpu.read(dx); // ≈ [-0.0833, 0.5, 1.0833, 1.0852]
 * }
 * ```
 */
export function geluBackward(
  gpu: GpuContext,
  x: GpuView,
  dy: GpuView,
  dx: GpuView,
  shape: GeluShape,
): Command[] {
  const { length } = shape;
  checkLength("gelu_backward", { x: [x, length], dy: [dy, length], dx: [dx, length] });
  const { views, grid } = quadDispatch(gpu, "gelu_backward", { x, dy, dx }, length, WG);
  return [gpu.prepare(GELU_BACKWARD, { uniforms: { length }, bindings: views }, grid)];
}
