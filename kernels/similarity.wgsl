// Fused scaled similarity, CLIP's logits with a learnable, capped logit scale:
//   s = min(exp(t), 100)
//   forward     logits = s U Vᵀ                       U [rows, dim], V [cols, dim]
//   backward_u  du += s dL V,   partial = Σ U ⊙ (dL V) over the thread's tile (for dt)
//   backward_v  dv += s dLᵀ U
//   backward_t  dt += s Σ partial  while exp(t) < 100 (the cap is flat: no gradient past it)
//
// Each GEMM thread computes an 8x8 output tile as four 4x4 blocks. A 4x4 block of a product over
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

// Σ a ⊙ b
fn frobenius(a: mat4x4<f32>, b: mat4x4<f32>) -> f32 {
  return dot(a[0], b[0]) + dot(a[1], b[1]) + dot(a[2], b[2]) + dot(a[3], b[3]);
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

// ---- backward ----

@group(0) @binding(4) var<storage, read> dlogits: array<f32>;

// Elements k..k+3 of row i of dL [rows, cols] (zero outside dL).
fn dl_row4(i: u32, k: u32) -> vec4<f32> {
  let p = min(i, shape.rows - 1u) * shape.cols + k;
  let x = vec4<f32>(dlogits[p], dlogits[p + 1u], dlogits[p + 2u], dlogits[p + 3u]);
  return masked(x, i < shape.rows, k, shape.cols);
}

fn dl_block(i: u32, k: u32) -> mat4x4<f32> {
  return mat4x4<f32>(dl_row4(i, k), dl_row4(i + 1u, k), dl_row4(i + 2u, k), dl_row4(i + 3u, k));
}

@group(0) @binding(5) var<storage, read_write> du: array<f32>;
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;

// du[i.., d..] += block m (element [a][b] at m[b][a]).
fn add_du(i: u32, d: u32, m: mat4x4<f32>) {
  for (var a = 0u; a < 4u; a++) {
    for (var b = 0u; b < 4u; b++) {
      if (i + a < shape.rows && d + b < shape.dim) {
        let p = (i + a) * shape.dim + d + b;
        du[p] = du[p] + m[b][a];
      }
    }
  }
}

// Tile (i.., d..) of dL V; the tile's share of Σ U ⊙ (dL V) goes to partial[thread].
@compute @workgroup_size(WG_X)
fn similarity_backward_u(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * 8u;
  let d = gid.x * 8u;
  if (i >= shape.rows || d >= shape.dim) {
    return;
  }
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  for (var k = 0u; k < shape.cols; k += 4u) {
    let a0 = transpose(dl_block(i, k));
    let a1 = transpose(dl_block(i + 4u, k));
    let b0 = transpose(v_block(k, d));
    let b1 = transpose(v_block(k, d + 4u));
    c00 += a0 * b0;
    c01 += a0 * b1;
    c10 += a1 * b0;
    c11 += a1 * b1;
  }
  let s = logit_scale();
  add_du(i, d, s * c00);
  add_du(i, d + 4u, s * c01);
  add_du(i + 4u, d, s * c10);
  add_du(i + 4u, d + 4u, s * c11);
  let tiles_x = (shape.dim + 7u) / 8u;
  partial[gid.y * tiles_x + gid.x] = frobenius(transpose(u_block(i, d)), c00) +
    frobenius(transpose(u_block(i, d + 4u)), c01) + frobenius(transpose(u_block(i + 4u, d)), c10) +
    frobenius(transpose(u_block(i + 4u, d + 4u)), c11);
}

@group(0) @binding(5) var<storage, read_write> dv: array<f32>;

fn add_dv(j: u32, d: u32, m: mat4x4<f32>) {
  for (var a = 0u; a < 4u; a++) {
    for (var b = 0u; b < 4u; b++) {
      if (j + a < shape.cols && d + b < shape.dim) {
        let p = (j + a) * shape.dim + d + b;
        dv[p] = dv[p] + m[b][a];
      }
    }
  }
}

// Tile (j.., d..) of dLᵀ U. V is bound (the backward passes share one binding order) but unused.
@compute @workgroup_size(WG_X)
fn similarity_backward_v(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.y * 8u;
  let d = gid.x * 8u;
  if (j >= shape.cols || d >= shape.dim) {
    return;
  }
  var c00 = mat4x4<f32>();
  var c01 = mat4x4<f32>();
  var c10 = mat4x4<f32>();
  var c11 = mat4x4<f32>();
  for (var k = 0u; k < shape.rows; k += 4u) {
    let a0 = dl_block(k, j);
    let a1 = dl_block(k, j + 4u);
    let b0 = transpose(u_block(k, d));
    let b1 = transpose(u_block(k, d + 4u));
    c00 += a0 * b0;
    c01 += a0 * b1;
    c10 += a1 * b0;
    c11 += a1 * b1;
  }
  let s = logit_scale();
  add_dv(j, d, s * c00);
  add_dv(j, d + 4u, s * c01);
  add_dv(j + 4u, d, s * c10);
  add_dv(j + 4u, d + 4u, s * c11);
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
