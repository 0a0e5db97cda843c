// Fused scaled similarity, CLIP's logits with a learnable, capped logit scale:
//   s = min(exp(t), 100)
//   forward     logits = s P,  P = U Vᵀ                U [rows, dim], V [cols, dim]
//   backward_u  du += s G,  partial = Σ U ⊙ G over the workgroup's quads (for dt),  G = dL V
//   backward_v  dv += s H,  H = dLᵀ U
//   backward_t  dt += s Σ partial  while exp(t) < 100 (the cap is flat: no gradient past it)
// P, G and H come from the GEMM (kernels/gemm.wgsl, src/ops/gemm.ts), which
// reads its operands from packed read-only storage textures, the fast path on a software adapter
// (llvmpipe); the passes here are elementwise over the flat matrices. They move vec4s
// (src/ops/shapes.ts quadView: on llvmpipe a vec4 storage access costs about what a scalar one
// does); components past `length` are read as zero and written back unchanged. 2-D grids of 1-D
// workgroups (kernels/grid.wgsl); backward_u and backward_t call the device's `workgroup_sum`
// (src/ops/workgroup_sum.ts).

override WG_X: u32 = 64;
// Quads each invocation of backward_u / backward_v adds (WG_X apart).
override CHUNK: u32 = 4;

const MAX_SCALE: f32 = 100.0;

struct Shape {
  // forward, backward_u, backward_v: elements of the flat matrix; backward_t: number of partials.
  length: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> t: array<f32>;
// forward: P = U Vᵀ on entry, scaled in place.
@group(0) @binding(2) var<storage, read_write> logits: array<vec4<f32>>;
// backward_u (U, G, du, partials_out) and backward_v (U, unread, H, dv).
@group(0) @binding(3) var<storage, read> u: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> product: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> grad: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> partials_out: array<f32>;
// backward_t: backward_u's partials, and dt.
@group(0) @binding(7) var<storage, read> partials: array<f32>;
@group(0) @binding(8) var<storage, read_write> dt: array<f32>;

fn logit_scale() -> f32 {
  return min(exp(t[0]), MAX_SCALE);
}

// ---- forward: logits = s P, where P = U Vᵀ came from the GEMM into the logits ----

@compute @workgroup_size(WG_X)
fn similarity_forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let keep = quad_live(q, shape.length);
  if (keep.x) {
    let p = logits[q];
    logits[q] = select(p, p * logit_scale(), keep);
  }
}

// ---- backward: the products G = dL V and H = dLᵀ U come from the GEMM ----

// grad += s product over the workgroup's CHUNK · WG_X quads (each invocation CHUNK of them, WG_X
// apart); returns this invocation's share of Σ U ⊙ product when `with_u`, else 0.
fn accumulate(group: u32, lane: u32, with_u: bool) -> f32 {
  let s = logit_scale();
  var sum = 0.0;
  for (var k = 0u; k < CHUNK; k++) {
    let q = (group * CHUNK + k) * WG_X + lane;
    let keep = quad_live(q, shape.length);
    if (keep.x) {
      let g = select(vec4<f32>(0.0), product[q], keep);
      let old = grad[q];
      grad[q] = select(old, old + s * g, keep);
      if (with_u) {
        sum += dot(select(vec4<f32>(0.0), u[q], keep), g);
      }
    }
  }
  return sum;
}

// du += s G; the workgroup's share of Σ U ⊙ G goes to partials_out[group] (for dt).
@compute @workgroup_size(WG_X)
fn similarity_backward_u(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let group = flat_group(wid, nwg);
  let total = workgroup_sum(lid.x, accumulate(group, lid.x, true));
  if (lid.x == 0u) {
    partials_out[group] = total;
  }
}

// dv += s H. U is bound (accumulate reads it for backward_u) but unread.
@compute @workgroup_size(WG_X)
fn similarity_backward_v(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  accumulate(flat_group(wid, nwg), lid.x, false);
}

// ---- backward_t: one workgroup sums the partials ----

@compute @workgroup_size(WG_X)
fn similarity_backward_t(@builtin(local_invocation_id) lid: vec3<u32>) {
  var total = 0.0;
  for (var p = lid.x; p < shape.length; p += WG_X) {
    total += partials[p];
  }
  let sum = workgroup_sum(lid.x, total);
  if (lid.x == 0u && exp(t[0]) < MAX_SCALE) {
    dt[0] = dt[0] + logit_scale() * sum;
  }
}
