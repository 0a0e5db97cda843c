// Fused scaled similarity, CLIP's logits with a learnable, capped logit scale:
//   s = min(exp(t), 100)
//   forward     logits = s U Vᵀ                       U [rows, dim], V [cols, dim]
//   backward_u  du += s G,  partial = Σ U ⊙ G over the thread's tile (for dt),  G = dL V
//   backward_v  dv += s H,  H = dLᵀ U
//   backward_t  dt += s Σ partial  while exp(t) < 100 (the cap is flat: no gradient past it)
// G and H come from the linear op's GEMM (kernels/linear.wgsl, src/ops/linear.ts) in a scratch
// buffer, so the backward passes here are elementwise.
//
// Each forward thread computes an 8x8 output tile as four 4x4 blocks. A 4x4 block of a product over
// four consecutive k is one mat4x4 product, so one step of the k loop is 16 four-wide loads and
// four matrix products (256 FMAs), with no workgroup memory and no barriers: what a software
// adapter (llvmpipe) runs fastest, and plain register blocking on a real GPU. Loads outside a
// matrix read as zero, so every size works and the tile edges need no special case.

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
@group(0) @binding(3) var<storage, read> v: array<f32>;

fn logit_scale() -> f32 {
  return min(exp(t[0]), MAX_SCALE);
}

// x where row `row_ok` holds and k + lane < n, else 0.
fn masked(x: vec4<f32>, row_ok: bool, k: u32, n: u32) -> vec4<f32> {
  let inside = (vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(n)) & vec4<bool>(row_ok);
  return select(vec4<f32>(), x, inside);
}

// Elements k..k+3 of row i of U (zero outside U).
fn u_row4(i: u32, k: u32) -> vec4<f32> {
  let p = min(i, shape.rows - 1u) * shape.dim + k;
  return masked(vec4<f32>(u[p], u[p + 1u], u[p + 2u], u[p + 3u]), i < shape.rows, k, shape.dim);
}

// Elements k..k+3 of row j of V (zero outside V).
fn v_row4(j: u32, k: u32) -> vec4<f32> {
  let p = min(j, shape.cols - 1u) * shape.dim + k;
  return masked(vec4<f32>(v[p], v[p + 1u], v[p + 2u], v[p + 3u]), j < shape.cols, k, shape.dim);
}

// Rows i..i+3, elements k..k+3 of U, one row per column of the matrix.
fn u_block(i: u32, k: u32) -> mat4x4<f32> {
  return mat4x4<f32>(u_row4(i, k), u_row4(i + 1u, k), u_row4(i + 2u, k), u_row4(i + 3u, k));
}

fn v_block(j: u32, k: u32) -> mat4x4<f32> {
  return mat4x4<f32>(v_row4(j, k), v_row4(j + 1u, k), v_row4(j + 2u, k), v_row4(j + 3u, k));
}

// ---- forward: logits = s U Vᵀ ----

@group(0) @binding(4) var<storage, read_write> logits: array<f32>;

// Writes block m (element [a][b] at m[b][a]) at rows i.., columns j.. of the logits.
fn store_logits(i: u32, j: u32, m: mat4x4<f32>) {
  for (var a = 0u; a < 4u; a++) {
    for (var b = 0u; b < 4u; b++) {
      if (i + a < shape.rows && j + b < shape.cols) {
        logits[(i + a) * shape.cols + j + b] = m[b][a];
      }
    }
  }
}

@compute @workgroup_size(WG_X)
fn similarity_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 8u;
  let j = gid.x * 8u;
  if (i >= shape.rows || j >= shape.cols) {
    return;
  }
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  for (var k = 0u; k < shape.dim; k += 4u) {
    let a0 = transpose(u_block(i, k));
    let a1 = transpose(u_block(i + 4u, k));
    let b0 = v_block(j, k);
    let b1 = v_block(j + 4u, k);
    c00 += a0 * b0;
    c01 += a0 * b1;
    c10 += a1 * b0;
    c11 += a1 * b1;
  }
  let s = logit_scale();
  store_logits(i, j, s * c00);
  store_logits(i, j + 4u, s * c01);
  store_logits(i + 4u, j, s * c10);
  store_logits(i + 4u, j + 4u, s * c11);
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

var<workgroup> sums: array<f32, WG_X>;

@compute @workgroup_size(WG_X)
fn similarity_backward_t(@builtin(local_invocation_id) lid: vec3<u32>) {
  let count = ((shape.rows + 7u) / 8u) * ((shape.dim + 7u) / 8u);
  var total = 0.0;
  for (var p = lid.x; p < count; p += WG_X) {
    total += partials[p];
  }
  sums[lid.x] = total;
  workgroupBarrier();
  for (var stride = WG_X / 2u; stride > 0u; stride /= 2u) {
    if (lid.x < stride) {
      sums[lid.x] += sums[lid.x + stride];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u && exp(t[0]) < MAX_SCALE) {
    dt[0] = dt[0] + logit_scale() * sums[0];
  }
}
