// Fused scaled similarity, CLIP's logits with a learnable, capped logit scale:
//   s = min(exp(t), 100)
//   forward     logits = s P,  P = U Vᵀ                U [rows, dim], V [cols, dim]
//   backward_u  du += s G,  partial = Σ U ⊙ G over the thread's tile (for dt),  G = dL V
//   backward_v  dv += s H,  H = dLᵀ U
//   backward_t  dt += s Σ partial  while exp(t) < 100 (the cap is flat: no gradient past it)
// P, G and H come from the linear op's GEMM (kernels/linear.wgsl, src/ops/linear.ts), which
// reads its operands from packed read-only storage textures, the fast path on a software adapter
// (llvmpipe); the passes here are elementwise.

override WG_X: u32 = 16;

const MAX_SCALE: f32 = 100.0;

struct Shape {
  rows: u32,
  cols: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;

fn logit_scale() -> f32 {
  return min(exp(t[0]), MAX_SCALE);
}

// ---- forward: logits = s P, where P = U Vᵀ came from the linear op's GEMM into the logits ----

@group(0) @binding(2) var<storage, read_write> logits: array<f32>;

@compute @workgroup_size(WG_X)
fn similarity_forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let i = (wid.y * nwg.x + wid.x) * WG_X + lid.x;
  if (i < shape.rows * shape.cols) {
    logits[i] = logits[i] * logit_scale();
  }
}

// ---- backward: the products G = dL V and H = dLᵀ U come from the linear op's GEMM ----

@group(0) @binding(3) var<storage, read> product: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

// grad += s product over the 8x8 tile at rows i.., columns d.. of a [shape.rows, shape.dim]
// matrix; returns Σ U ⊙ product over the tile when `with_u`, else 0.
fn accumulate_tile(i: u32, d: u32, with_u: bool) -> f32 {
  let s = logit_scale();
  var sum = 0.0;
  for (var a = i; a < min(i + 8u, shape.rows); a++) {
    for (var b = d; b < min(d + 8u, shape.dim); b++) {
      let p = a * shape.dim + b;
      let g = product[p];
      grad[p] = grad[p] + s * g;
      if (with_u) {
        sum += u[p] * g;
      }
    }
  }
  return sum;
}

// du += s G; the tile's share of Σ U ⊙ G goes to partial[thread] (for dt).
@compute @workgroup_size(WG_X)
fn similarity_backward_u(@builtin(global_invocation_id) gid: vec3<u32>) {
  let tiles_x = (shape.dim + 7u) / 8u;
  if (gid.x >= tiles_x || gid.y * 8u >= shape.rows) {
    return;
  }
  partial[gid.y * tiles_x + gid.x] = accumulate_tile(gid.y * 8u, gid.x * 8u, true);
}

// dv += s H (shape.rows is the rows of V here). U is bound (the passes share one binding order)
// but unused.
@compute @workgroup_size(WG_X)
fn similarity_backward_v(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x * 8u >= shape.dim || gid.y * 8u >= shape.rows) {
    return;
  }
  accumulate_tile(gid.y * 8u, gid.x * 8u, false);
}

// ---- backward_t: one workgroup sums the partials ----

@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> dt: array<f32>;

@compute @workgroup_size(WG_X)
fn similarity_backward_t(@builtin(local_invocation_id) lid: vec3<u32>) {
  let count = ((shape.rows + 7u) / 8u) * ((shape.dim + 7u) / 8u);
  var total = 0.0;
  for (var p = lid.x; p < count; p += WG_X) {
    total += partials[p];
  }
  let sum = workgroup_sum(lid.x, total);
  if (lid.x == 0u && exp(t[0]) < MAX_SCALE) {
    dt[0] = dt[0] + logit_scale() * sum;
  }
}
