// Row-wise L2 normalization, as PyTorch's F.normalize(x, dim=1, eps):
//   forward   y = x / max(|x|, eps), norm = |x|
//   backward  dx += (dy - y (y . dy)) / |x|      (dx += dy / eps where |x| < eps)
// One workgroup per row; WG_X threads stride over the row and reduce with `workgroup_sum`, which
// a companion file defines for the device (src/ops/workgroup_sum.ts: one subgroup's subgroupAdd,
// or a tree in workgroup memory).

override WG_X: u32 = 64;

struct Shape {
  rows: u32,
  dim: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> shape: Shape;

@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_norm: array<f32>;

@compute @workgroup_size(WG_X)
fn l2norm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.x;
  let base = row * shape.dim;
  var sq = 0.0;
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    let v = fwd_x[base + j];
    sq = sq + v * v;
  }
  let n = sqrt(workgroup_sum(lid.x, sq));
  let inv = 1.0 / max(n, shape.eps);
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    fwd_y[base + j] = fwd_x[base + j] * inv;
  }
  if (lid.x == 0u) {
    fwd_norm[row] = n;
  }
}

@group(0) @binding(1) var<storage, read> bwd_y: array<f32>;
@group(0) @binding(2) var<storage, read> bwd_norm: array<f32>;
@group(0) @binding(3) var<storage, read> bwd_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> bwd_dx: array<f32>;

@compute @workgroup_size(WG_X)
fn l2norm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.x;
  let base = row * shape.dim;
  let n = bwd_norm[row];
  var dot = 0.0;
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    dot = dot + bwd_y[base + j] * bwd_dy[base + j];
  }
  dot = workgroup_sum(lid.x, dot);
  if (n < shape.eps) {
    dot = 0.0;
  }
  let inv = 1.0 / max(n, shape.eps);
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    let i = base + j;
    bwd_dx[i] = bwd_dx[i] + (bwd_dy[i] - bwd_y[i] * dot) * inv;
  }
}
