/**
 * Shape checks shared by the ops: every buffer a kernel binds is checked against the length its
 * shape implies, with an error naming the kernel, the buffer and both lengths.
 *
 * @module
 */

import type { GpuContext } from "../gpu/context.ts";
import type { GpuView } from "../gpu/kernel.ts";
import { grid2d } from "./grid.ts";

/**
 * Throws unless each named view holds at least the expected number of elements.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(6);
 *   checkLength("l2norm_forward", { x: [x, 2 * 3] }); // passes
 *   assert.throws(() => checkLength("l2norm_forward", { x: [x, 2 * 4] }), /x has 6 elements/);
 * }
 * ```
 */
export function checkLength(
  kernel: string,
  expected: Record<string, readonly [GpuView, number]>,
): void {
  for (const [name, [view, length]] of Object.entries(expected)) {
    if (!Number.isInteger(length) || length < 1) {
      throw new RangeError(`${kernel}: ${name} would have ${length} elements; shapes must be >= 1`);
    }
    if (view.length < length) {
      throw new RangeError(
        `${kernel}: ${name} has ${view.length} elements, expected at least ${length}`,
      );
    }
  }
}

/**
 * `view` widened to whole quads of 4 elements, for a kernel that binds it as `array<vec4<f32>>`:
 * on llvmpipe every storage-buffer access is a loop over the lanes whatever its width, so
 * elementwise kernels move vec4s rather than f32s. The up to 3 elements past `length` are the buffer's
 * padding or the start of whatever follows the view: such kernels may read them but write back
 * only what they read. Throws unless the view starts on a 16-byte boundary and its buffer holds
 * the last quad whole (buffers from `GpuContext.storage` always do).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const params = gpu.storage(10);
 *   quadView("adamw", "params", params, 10).length; // 12: 3 quads, bound as array<vec4<f32>>
 * }
 * ```
 */
export function quadView(kernel: string, name: string, view: GpuView, length: number): GpuView {
  const quads = Math.ceil(length / 4);
  if (view.offset % 16 !== 0 || view.offset + quads * 16 > view.buffer.size) {
    throw new RangeError(
      `${kernel}: ${name} is read in quads of 4 elements: its view must start on a 16-byte ` +
        `boundary (offset ${view.offset}) and its buffer must hold ${
          quads * 16
        } bytes from there ` +
        `(it has ${view.buffer.size - view.offset})`,
    );
  }
  return { buffer: view.buffer, offset: view.offset, length: quads * 4 };
}

/**
 * {@link quadView} of each named view, by the same names, and the 2-D grid that gives each
 * invocation of `perGroup` per workgroup one quad of `length` elements.
 * @example
 * ```ts
 * import { GELU_FORWARD } from "./gelu.ts";
 * import { tryGetGpu } from "../gpu/context.ts";
 * const gpu = await tryGetGpu(); // null where there is no WebGPU adapter
 * if (gpu) {
 *   const x = gpu.storage(1000), y = gpu.storage(1000);
 *   const { views, grid } = quadDispatch(gpu, "gelu_forward", { x, y }, 1000, 256); // grid [1, 1]
 *   await gpu.run([gpu.prepare(GELU_FORWARD, { uniforms: { length: 1000 }, bindings: views }, grid)]);
 * }
 * ```
 */
export function quadDispatch<Name extends string>(
  gpu: GpuContext,
  kernel: string,
  views: Record<Name, GpuView>,
  length: number,
  perGroup: number,
): { views: Record<Name, GpuView>; grid: [number, number] } {
  const quads = Object.entries<GpuView>(views).map(([name, view]) => [
    name,
    quadView(kernel, name, view, length),
  ]);
  return {
    views: Object.fromEntries(quads) as Record<Name, GpuView>,
    grid: grid2d(gpu, Math.ceil(length / 4), perGroup),
  };
}
