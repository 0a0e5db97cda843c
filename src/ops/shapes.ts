/**
 * Shape checks shared by the ops: every buffer a kernel binds is checked against the length its
 * shape implies, with an error naming the kernel, the buffer and both lengths.
 *
 * @module
 */

import type { GpuView } from "../gpu/kernel.ts";

/**
 * Throws unless each named view holds at least the expected number of elements.
 * @example
 * ```ts
 * // checkLength("l2norm_forward", { x: [x, rows * dim] });
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
