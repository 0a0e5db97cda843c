/**
 * GELU (erf form, as PyTorch's default `nn.GELU()`) on the GPU (`kernels/gelu.wgsl`); twin in
 * `src/reference/gelu.ts`.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { Dispatch, GpuView, KernelSpec } from "../gpu/kernel.ts";
import type { GeluShape } from "../reference/gelu.ts";
import { checkLength, quadDispatch } from "./shapes.ts";

export type { GeluShape } from "../reference/gelu.ts";

const WG = 256;

/** `gelu_forward`: uniform, x, y. */
export const GELU_FORWARD: KernelSpec = {
  name: "gelu_forward",
  file: "gelu.wgsl",
  entryPoint: "gelu_forward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "write"],
};

/** `gelu_backward`: uniform, x, dy, dx (accumulated). */
export const GELU_BACKWARD: KernelSpec = {
  name: "gelu_backward",
  file: "gelu.wgsl",
  entryPoint: "gelu_backward",
  workgroupSize: [WG],
  bindings: ["uniform", "read", "read", "write"],
};

/**
 * Prepares `y = 0.5 · x · (1 + erf(x/√2))` over `length` elements.
 * @example
 * ```ts
 * // const d = geluForward(gpu, x, y, { length: 640 * 256 });
 * // await gpu.run([d]);
 * ```
 */
export function geluForward(gpu: GpuContext, x: GpuView, y: GpuView, shape: GeluShape): Dispatch {
  const { length } = shape;
  checkLength("gelu_forward", { x: [x, length], y: [y, length] });
  const { views, grid } = quadDispatch(gpu, "gelu_forward", { x, y }, length, WG);
  return gpu.prepare(GELU_FORWARD, [{ u32: length }], views, grid);
}

/**
 * Prepares `dx += dy · gelu'(x)` over `length` elements.
 * @example
 * ```ts
 * // const d = geluBackward(gpu, x, dy, dx, { length: 640 * 256 });
 * ```
 */
export function geluBackward(
  gpu: GpuContext,
  x: GpuView,
  dy: GpuView,
  dx: GpuView,
  shape: GeluShape,
): Dispatch {
  const { length } = shape;
  checkLength("gelu_backward", { x: [x, length], dy: [dy, length], dx: [dx, length] });
  const { views, grid } = quadDispatch(gpu, "gelu_backward", { x, dy, dx }, length, WG);
  return gpu.prepare(GELU_BACKWARD, [{ u32: length }], views, grid);
}
