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
@group(0) @binding(1) var<storage, read> x: array<f32>;
// The forward writes y and the row norms as y_out and norm_out; the backward reads them.
@group(0) @binding(2) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> norm_out: array<f32>;
@group(0) @binding(4) var<storage, read> y: array<f32>;
@group(0) @binding(5) var<storage, read> norm: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG_X)
fn l2norm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.x;
  let base = row * shape.dim;
  var sq = 0.0;
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    let v = x[base + j];
    sq = sq + v * v;
  }
  let n = sqrt(workgroup_sum(lid.x, sq));
  let inv = 1.0 / max(n, shape.eps);
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    y_out[base + j] = x[base + j] * inv;
  }
  if (lid.x == 0u) {
    norm_out[row] = n;
  }
}

@compute @workgroup_size(WG_X)
fn l2norm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.x;
  let base = row * shape.dim;
  let n = norm[row];
  var dot = 0.0;
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    dot = dot + y[base + j] * dy[base + j];
  }
  dot = workgroup_sum(lid.x, dot);
  if (n < shape.eps) {
    dot = 0.0;
  }
  let inv = 1.0 / max(n, shape.eps);
  for (var j = lid.x; j < shape.dim; j = j + WG_X) {
    let i = base + j;
    dx[i] = dx[i] + (dy[i] - y[i] * dot) * inv;
  }
}
