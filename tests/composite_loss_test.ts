// The composite loss w_clip·CLIP + w_supcon·SupCon + w_bce·BCE, chained from the ops exactly as
// training chains them (l2norm → similarity → CLIP; SupCon on the normalized rows; BCE on the
// classifier logits; then the backwards down to the raw embeddings), against PyTorch autograd
// (fixture written by tests/oracle/composite_loss_oracle.py; no PyTorch needed here).

import type { GpuView } from "../src/gpu/kernel.ts";
import { bceBackward, bceForward } from "../src/ops/bce.ts";
import { clipLossBackward, clipLossForward } from "../src/ops/clip_loss.ts";
import { l2normBackward, l2normForward } from "../src/ops/l2norm.ts";
import { similarityBackward, similarityForward } from "../src/ops/similarity.ts";
import { supconBackward, supconForward } from "../src/ops/supcon.ts";
import * as bce from "../src/reference/bce.ts";
import * as clip from "../src/reference/clip_loss.ts";
import * as l2norm from "../src/reference/l2norm.ts";
import * as similarity from "../src/reference/similarity.ts";
import * as supcon from "../src/reference/supcon.ts";
import { assertClose, f32, gpuTest, type Tolerance } from "./util/check.ts";

interface Fixture {
  B: number;
  dim: number;
  temperature: number;
  weights: { clip: number; supcon: number; bce: number };
  inputs: { u: number[]; v: number[]; t: number; cls_logits: number[]; labels: number[] };
  terms: { clip: number; supcon: number; bce: number };
  total: number;
  grads: { u: number[]; v: number[]; t: number; cls_logits: number[] };
}

const fx: Fixture = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/composite_loss.json", import.meta.url)),
);
const { B, dim, temperature, weights } = fx;
const n = 2 * B;
const EPS = 1e-12;
const labels2 = Int32Array.from([...fx.inputs.labels, ...fx.inputs.labels]);

/** What a chain computes: the three terms and the gradients of the weighted total. */
interface Result {
  terms: { clip: number; supcon: number; bce: number };
  du: ArrayLike<number>;
  dv: ArrayLike<number>;
  dt: number;
  dcls: ArrayLike<number>;
}

function compare(r: Result, tol: Tolerance, what: string): void {
  for (const k of ["clip", "supcon", "bce"] as const) {
    assertClose([r.terms[k]], [fx.terms[k]], tol, `${what} ${k} term`);
  }
  const total = weights.clip * r.terms.clip + weights.supcon * r.terms.supcon +
    weights.bce * r.terms.bce;
  assertClose([total], [fx.total], tol, `${what} total`);
  // Gradient elements near zero get the tolerance relative to the largest element of the tensor.
  const grad = (actual: ArrayLike<number>, expected: number[], name: string) => {
    const scale = Math.max(...expected.map(Math.abs));
    assertClose(actual, expected, { atol: tol.atol * scale, rtol: tol.rtol }, `${what} d${name}`);
  };
  grad(r.du, fx.grads.u, "u");
  grad(r.dv, fx.grads.v, "v");
  grad([r.dt], [fx.grads.t], "t");
  grad(r.dcls, fx.grads.cls_logits, "cls_logits");
}

Deno.test("composite loss: float64 twins chained match PyTorch autograd", () => {
  const x = Float64Array.from([...fx.inputs.u, ...fx.inputs.v]); // u rows then v rows
  const t = Float64Array.of(fx.inputs.t), cls = Float64Array.from(fx.inputs.cls_logits);
  const z = new Float64Array(n * dim), norm = new Float64Array(n);
  l2norm.l2normForward(x, z, norm, { rows: n, dim, eps: EPS });
  const un = z.subarray(0, B * dim), vn = z.subarray(B * dim);
  const simShape = { rows: B, cols: B, dim };
  const logits = new Float64Array(B * B);
  similarity.similarityForward(un, vn, t, logits, simShape);
  const out = new Float64Array(1);
  clip.clipLossForward(logits, out, { n: B });
  const clipTerm = out[0];
  supcon.supconForward(z, labels2, out, { n, dim, temperature });
  const supconTerm = out[0];
  bce.bceForward(cls, labels2, out, { n });
  const bceTerm = out[0];

  const dlogits = new Float64Array(B * B), dz = new Float64Array(n * dim);
  const dt = new Float64Array(1), dx = new Float64Array(n * dim), dcls = new Float64Array(n);
  clip.clipLossBackward(logits, dlogits, { n: B, weight: weights.clip });
  supcon.supconBackward(z, labels2, dz, { n, dim, temperature, weight: weights.supcon });
  similarity.similarityBackward(
    un,
    vn,
    t,
    dlogits,
    dz.subarray(0, B * dim),
    dz.subarray(B * dim),
    dt,
    simShape,
  );
  l2norm.l2normBackward(z, norm, dz, dx, { rows: n, dim, eps: EPS });
  bce.bceBackward(cls, labels2, dcls, { n, weight: weights.bce });
  compare(
    {
      terms: { clip: clipTerm, supcon: supconTerm, bce: bceTerm },
      du: dx.subarray(0, B * dim),
      dv: dx.subarray(B * dim),
      dt: dt[0],
      dcls,
    },
    { atol: 1e-12, rtol: 1e-10 },
    "twins",
  );
});

gpuTest("composite loss: GPU ops chained match PyTorch autograd (rel 1e-4)", async (gpu) => {
  // One buffer holds u's rows then v's: l2norm runs over all 2B rows, and the normalized
  // halves are views (B·dim·4 = 512 bytes, a multiple of the 256-byte offset alignment).
  const half = (view: GpuView, i: number): GpuView => ({
    buffer: view.buffer,
    offset: i * B * dim * 4,
    length: B * dim,
  });
  const x = gpu.storage(f32([...fx.inputs.u, ...fx.inputs.v]));
  const z = gpu.storage(n * dim), norm = gpu.storage(n);
  const t = gpu.storage(f32([fx.inputs.t])), cls = gpu.storage(f32(fx.inputs.cls_logits));
  const labels = gpu.storage(labels2);
  const logits = gpu.storage(B * B);
  const terms = [gpu.storage(1), gpu.storage(1), gpu.storage(1)];
  const dlogits = gpu.storage(B * B), dz = gpu.storage(n * dim), dx = gpu.storage(n * dim);
  const dt = gpu.storage(1), dcls = gpu.storage(n);
  const simShape = { rows: B, cols: B, dim };
  await gpu.run([
    ...l2normForward(gpu, x, z, norm, { rows: n, dim, eps: EPS }),
    ...similarityForward(gpu, half(z, 0), half(z, 1), t, logits, simShape),
    ...clipLossForward(gpu, logits, terms[0], { n: B }),
    ...supconForward(gpu, z, labels, terms[1], { n, dim, temperature }),
    ...bceForward(gpu, cls, labels, terms[2], { n }),
    ...clipLossBackward(gpu, logits, dlogits, { n: B, weight: weights.clip }),
    ...supconBackward(gpu, z, labels, dz, { n, dim, temperature, weight: weights.supcon }),
    ...similarityBackward(
      gpu,
      half(z, 0),
      half(z, 1),
      t,
      dlogits,
      half(dz, 0),
      half(dz, 1),
      dt,
      simShape,
    ),
    ...l2normBackward(gpu, z, norm, dz, dx, { rows: n, dim, eps: EPS }),
    ...bceBackward(gpu, cls, labels, dcls, { n, weight: weights.bce }),
  ]);
  const [clipTerm, supconTerm, bceTerm, rdx, rdt, rdcls] = await gpu.readMany([
    ...terms,
    dx,
    dt,
    dcls,
  ]);
  compare(
    {
      terms: { clip: clipTerm[0], supcon: supconTerm[0], bce: bceTerm[0] },
      du: rdx.subarray(0, B * dim),
      dv: rdx.subarray(B * dim),
      dt: rdt[0],
      dcls: rdcls,
    },
    { atol: 1e-5, rtol: 1e-4 },
    "GPU",
  );
});
