/**
 * CPU twin (float64) of `kernels/tsne.wgsl`: one exact t-SNE gradient-descent iteration as three
 * steps, forces per column chunk, their sum per point, and the update.
 *
 * @module
 */

/** Shape and step of one t-SNE iteration. */
export interface TsneShape {
  /** Number of points. */
  count: number;
  /** Columns j per partial sum of the forces, a multiple of 4 (bounds the GPU's loops). */
  chunk: number;
  /** Factor on P (12 during early exaggeration, else 1). */
  exaggeration: number;
  /** Momentum of the update (0.5, then 0.8). */
  momentum: number;
  /** Learning rate. */
  lr: number;
}

/** Smallest per-coordinate gain, as the reference implementation. */
export const TSNE_MIN_GAIN = 0.01;

/**
 * Number of column chunks of a shape: `ceil(count / chunk)`.
 * @example
 * ```ts
 * tsneChunks({ count: 5000, chunk: 1024, exaggeration: 1, momentum: 0.8, lr: 200 }); // 5
 * ```
 */
export function tsneChunks(shape: TsneShape): number {
  return Math.ceil(shape.count / shape.chunk);
}

/**
 * Row length of P: `count` rounded up to a multiple of 4 (the GPU reads P 4 columns at a time;
 * the padding columns hold 0).
 * @example
 * ```ts
 * tsneStride(10); // 12
 * ```
 */
export function tsneStride(count: number): number {
  return Math.ceil(count / 4) * 4;
}

/**
 * Partial sums over the columns j of chunk c, for each point i, with `w = 1/(1+|y_i−y_j|²)`:
 * `forces[4(c·count+i) …] = [Σ p_ij w Δx, Σ p_ij w Δy, Σ w² Δx, Σ w² Δy]` (Δ = y_i − y_j) and
 * `zParts[c·count+i] = Σ_{j≠i} w`. `p` is count×{@link tsneStride}, `y` count×2 interleaved.
 * @example
 * ```ts
 * const shape = { count: 2, chunk: 4, exaggeration: 1, momentum: 0.5, lr: 1 };
 * const p = new Float64Array([0, 0.5, 0, 0, 0.5, 0, 0, 0]); // 2 rows of stride 4
 * const forces = new Float64Array(8), zParts = new Float64Array(2);
 * tsneForces(p, new Float64Array([0, 0, 1, 0]), forces, zParts, shape);
 * // forces = [-0.25, 0, -0.25, 0, 0.25, 0, 0.25, 0], zParts = [0.5, 0.5]
 * ```
 */
export function tsneForces(
  p: Float64Array,
  y: Float64Array,
  forces: Float64Array,
  zParts: Float64Array,
  shape: TsneShape,
): void {
  const { count, chunk } = shape, stride = tsneStride(count);
  for (let c = 0; c < tsneChunks(shape); c++) {
    const stop = Math.min((c + 1) * chunk, count);
    for (let i = 0; i < count; i++) {
      let ax = 0, ay = 0, rx = 0, ry = 0, z = 0;
      for (let j = c * chunk; j < stop; j++) {
        if (j === i) continue;
        const dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const w = 1 / (1 + dx * dx + dy * dy), pw = p[i * stride + j] * w;
        ax += pw * dx;
        ay += pw * dy;
        rx += w * w * dx;
        ry += w * w * dy;
        z += w;
      }
      const o = c * count + i;
      forces.set([ax, ay, rx, ry], 4 * o);
      zParts[o] = z;
    }
  }
}

/**
 * Sums the chunks' partial sums per point: `totals` (count×4) and `zTotals` (count).
 * @example
 * ```ts
 * const shape = { count: 1, chunk: 1, exaggeration: 1, momentum: 0.5, lr: 1 };
 * const totals = new Float64Array(4), zTotals = new Float64Array(1);
 * tsneReduce(new Float64Array([1, 2, 3, 4]), new Float64Array([5]), totals, zTotals, shape);
 * // totals = [1, 2, 3, 4], zTotals = [5]
 * ```
 */
export function tsneReduce(
  forces: Float64Array,
  zParts: Float64Array,
  totals: Float64Array,
  zTotals: Float64Array,
  shape: TsneShape,
): void {
  const { count } = shape;
  totals.fill(0, 0, 4 * count);
  zTotals.fill(0, 0, count);
  for (let c = 0; c < tsneChunks(shape); c++) {
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 4; k++) totals[4 * i + k] += forces[4 * (c * count + i) + k];
      zTotals[i] += zParts[c * count + i];
    }
  }
}

/**
 * The gradient of KL(P‖Q) (P times `exaggeration`) from the summed forces:
 * `grad_i = 4 (e · attr_i − rep_i / Z)`, Z = Σ zTotals. Writes `grad` (count×2).
 * @example
 * ```ts
 * const shape = { count: 1, chunk: 1, exaggeration: 2, momentum: 0.5, lr: 1 };
 * const grad = new Float64Array(2);
 * tsneGradient(new Float64Array([1, 1, 2, 0]), new Float64Array([2]), grad, shape); // [4, 8]
 * ```
 */
export function tsneGradient(
  totals: Float64Array,
  zTotals: Float64Array,
  grad: Float64Array,
  shape: TsneShape,
): void {
  const { count, exaggeration } = shape;
  let z = 0;
  for (let i = 0; i < count; i++) z += zTotals[i];
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 2; k++) {
      grad[2 * i + k] = 4 * (exaggeration * totals[4 * i + k] - totals[4 * i + 2 + k] / z);
    }
  }
}

/**
 * One update from the summed forces: the gradient ({@link tsneGradient}), gains grown by 0.2
 * where it turned against the last update and shrunk by 0.8 (at least {@link TSNE_MIN_GAIN})
 * where it agrees, `update = momentum · update − lr · gain · grad`, `y += update`, then y
 * centered on its mean.
 * @example
 * ```ts
 * const shape = { count: 2, chunk: 2, exaggeration: 1, momentum: 0.5, lr: 1 };
 * const y = new Float64Array([0, 0, 1, 0]);
 * const update = new Float64Array(4), gains = new Float64Array(4).fill(1);
 * tsneStep(new Float64Array(8), new Float64Array([1, 1]), y, update, gains, shape);
 * // no force: y = [-0.5, 0, 0.5, 0] (centered), gains = [0.8, 0.8, 0.8, 0.8]
 * ```
 */
export function tsneStep(
  totals: Float64Array,
  zTotals: Float64Array,
  y: Float64Array,
  update: Float64Array,
  gains: Float64Array,
  shape: TsneShape,
): void {
  const grad = new Float64Array(2 * shape.count);
  tsneGradient(totals, zTotals, grad, shape);
  descend(grad, y, update, gains, shape);
}

/**
 * The update of {@link tsneStep} from a gradient `grad` (count×2): gains, momentum, `y += update`,
 * y centered. The CPU path of `tsne` takes it too. Allocates nothing.
 * @example
 * ```ts
 * const y = new Float64Array([0, 0, 1, 0]), update = new Float64Array(4);
 * const gains = new Float64Array(4).fill(1);
 * descend(new Float64Array([1, 0, -1, 0]), y, update, gains, { count: 2, momentum: 0.5, lr: 1 });
 * // update = [-0.8, 0, 0.8, 0], y = [-1.3, 0, 1.3, 0] (centered)
 * ```
 */
export function descend(
  grad: Float64Array,
  y: Float64Array,
  update: Float64Array,
  gains: Float64Array,
  shape: Pick<TsneShape, "count" | "momentum" | "lr">,
): void {
  const { count, momentum, lr } = shape;
  let mx = 0, my = 0;
  for (let k = 0; k < 2 * count; k++) {
    const g = grad[k];
    // Gains grow where the gradient turned against the last step, shrink where it agrees.
    const gain = update[k] * g < 0 ? gains[k] + 0.2 : Math.max(gains[k] * 0.8, TSNE_MIN_GAIN);
    gains[k] = gain;
    update[k] = momentum * update[k] - lr * gain * g;
    y[k] += update[k];
    if (k & 1) my += y[k];
    else mx += y[k];
  }
  mx /= count;
  my /= count;
  for (let i = 0; i < count; i++) {
    y[2 * i] -= mx;
    y[2 * i + 1] -= my;
  }
}
