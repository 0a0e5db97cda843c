// One iteration of exact t-SNE (src/eval/tsne.ts), w_ij = 1 / (1 + |y_i - y_j|^2), d = y_i - y_j:
//   tsne_forces  per point i and chunk c of columns j: sum p_ij w d, sum w^2 d, sum_{j != i} w
//   tsne_reduce  per point: the chunks' partial sums added up
//   tsne_step    grad_i = 4 (e attr_i - rep_i / Z), Z = sum of all w; gains grow by 0.2 where
//                grad opposes the last update, else shrink by 0.8 (>= MIN_GAIN);
//                update = momentum update - lr gain grad; y += update; y -= mean(y)
// A forces invocation walks one chunk of columns 4 at a time, so no invocation loops more than
// `chunk` / 4 times (llvmpipe stops a thread after 65,535 iterations).
// The step is one workgroup reducing Z and the mean with `workgroup_sum`
// (src/ops/workgroup_sum.ts), which loops count / WG_X times per invocation.

override WG_X: u32 = 64;

const MIN_GAIN: f32 = 0.01;
// Texture widths (src/ops/tsne.ts P_WIDTH, Y_WIDTH).
const P_WIDTH_LOG2: u32 = 12u;
const Y_WIDTH_LOG2: u32 = 10u;

struct Shape {
  count: u32,
  stride: u32,
  chunk: u32,
  chunks: u32,
  exaggeration: f32,
  momentum: f32,
  lr: f32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
// P (count x stride, stride = count rounded up to a multiple of 4) as texels: texel t = row *
// stride / 4 + q holds P[row, 4q .. 4q + 3], at (t mod 2^P_WIDTH_LOG2, t >> P_WIDTH_LOG2).
// y_tex: texel k = (x, y of point 2k, x, y of point 2k + 1), at (k mod 2^Y_WIDTH_LOG2, k >> ..).
// Read-only storage textures are llvmpipe's cheapest loads in a loop (README, "llvmpipe"): a
// storage buffer or workgroup array indexed by the loop counter is read lane by lane.
@group(0) @binding(1) var p: texture_storage_2d<rgba32float, read>;
@group(0) @binding(9) var y_tex: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// chunks x count x 4 (attractive x, y, repulsive x, y) and chunks x count (sum of w).
@group(0) @binding(3) var<storage, read_write> forces: array<f32>;
@group(0) @binding(4) var<storage, read_write> z_parts: array<f32>;
// count x 4 and count: the sums over chunks.
@group(0) @binding(5) var<storage, read_write> totals: array<f32>;
@group(0) @binding(6) var<storage, read_write> z_totals: array<f32>;
@group(0) @binding(7) var<storage, read_write> update: array<f32>;
@group(0) @binding(8) var<storage, read_write> gains: array<f32>;

fn texel(t: u32, width_log2: u32) -> vec2<u32> {
  return vec2<u32>(t & ((1u << width_log2) - 1u), t >> width_log2);
}

fn p_quad(row: u32, q: u32) -> vec4<f32> {
  return textureLoad(p, texel(row * (shape.stride / 4u) + q, P_WIDTH_LOG2));
}

// A forces invocation's sums for one point i.
struct Sums {
  ax: f32,
  ay: f32,
  rx: f32,
  ry: f32,
  z: f32,
}

// s plus the pairs of point (xi, yi) with 4 tile points (tx, ty); live masks the pairs that count.
fn add_pairs(
  s: Sums, xi: f32, yi: f32, tx: vec4<f32>, ty: vec4<f32>, pv: vec4<f32>, live: vec4<bool>,
) -> Sums {
  let dx = vec4<f32>(xi) - tx;
  let dy = vec4<f32>(yi) - ty;
  let w = select(vec4<f32>(0.0), 1.0 / (1.0 + dx * dx + dy * dy), live);
  let pw = pv * w;
  let ww = w * w;
  return Sums(s.ax + dot(pw, dx), s.ay + dot(pw, dy), s.rx + dot(ww, dx), s.ry + dot(ww, dy), s.z + dot(w, vec4<f32>(1.0)));
}

fn store_sums(chunk: u32, i: u32, s: Sums) {
  if (i < shape.count) {
    let o = chunk * shape.count + i;
    forces[4u * o] = s.ax;
    forces[4u * o + 1u] = s.ay;
    forces[4u * o + 2u] = s.rx;
    forces[4u * o + 3u] = s.ry;
    z_parts[o] = s.z;
  }
}

// Grid: (ceil(count / (4 WG_X)), chunks); invocation x has the points i0 + r WG_X, r < 4, and
// workgroup y is the chunk (a multiple of 4 columns). Each step reads 4 columns: 2 texels of y
// shared by the 4 points, and one texel of P per point.
@compute @workgroup_size(WG_X)
fn tsne_forces(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = shape.count;
  let i0 = wid.x * 4u * WG_X + lid.x;
  let r0 = min(i0, n - 1u);
  let r1 = min(i0 + WG_X, n - 1u);
  let r2 = min(i0 + 2u * WG_X, n - 1u);
  let r3 = min(i0 + 3u * WG_X, n - 1u);
  let p0 = vec2<f32>(y[2u * r0], y[2u * r0 + 1u]);
  let p1 = vec2<f32>(y[2u * r1], y[2u * r1 + 1u]);
  let p2 = vec2<f32>(y[2u * r2], y[2u * r2 + 1u]);
  let p3 = vec2<f32>(y[2u * r3], y[2u * r3 + 1u]);
  let start = wid.y * shape.chunk;
  let stop = min(start + shape.chunk, n);
  var s0 = Sums(0.0, 0.0, 0.0, 0.0, 0.0);
  var s1 = s0;
  var s2 = s0;
  var s3 = s0;
  for (var q = start / 4u; q < (stop + 3u) / 4u; q = q + 1u) {
    let j = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
    let live = j < vec4<u32>(stop);
    let a = textureLoad(y_tex, texel(2u * q, Y_WIDTH_LOG2));
    let b = textureLoad(y_tex, texel(2u * q + 1u, Y_WIDTH_LOG2));
    let cx = vec4<f32>(a.x, a.z, b.x, b.z);
    let cy = vec4<f32>(a.y, a.w, b.y, b.w);
    s0 = add_pairs(s0, p0.x, p0.y, cx, cy, p_quad(r0, q), live & j != vec4<u32>(r0));
    s1 = add_pairs(s1, p1.x, p1.y, cx, cy, p_quad(r1, q), live & j != vec4<u32>(r1));
    s2 = add_pairs(s2, p2.x, p2.y, cx, cy, p_quad(r2, q), live & j != vec4<u32>(r2));
    s3 = add_pairs(s3, p3.x, p3.y, cx, cy, p_quad(r3, q), live & j != vec4<u32>(r3));
  }
  store_sums(wid.y, i0, s0);
  store_sums(wid.y, i0 + WG_X, s1);
  store_sums(wid.y, i0 + 2u * WG_X, s2);
  store_sums(wid.y, i0 + 3u * WG_X, s3);
}

// Grid: ceil(count / WG_X) workgroups, one invocation per point.
@compute @workgroup_size(WG_X)
fn tsne_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = shape.count;
  let i = gid.x;
  if (i >= n) {
    return;
  }
  var f = vec4<f32>(0.0);
  var z = 0.0;
  for (var c = 0u; c < shape.chunks; c = c + 1u) {
    let o = c * n + i;
    f = f + vec4<f32>(forces[4u * o], forces[4u * o + 1u], forces[4u * o + 2u], forces[4u * o + 3u]);
    z = z + z_parts[o];
  }
  totals[4u * i] = f.x;
  totals[4u * i + 1u] = f.y;
  totals[4u * i + 2u] = f.z;
  totals[4u * i + 3u] = f.w;
  z_totals[i] = z;
}

// One coordinate's gain, update and new position.
fn step_one(k: u32, g: f32) -> f32 {
  let u = update[k];
  let gain = select(max(gains[k] * 0.8, MIN_GAIN), gains[k] + 0.2, u * g < 0.0);
  gains[k] = gain;
  let next = shape.momentum * u - shape.lr * gain * g;
  update[k] = next;
  let v = y[k] + next;
  y[k] = v;
  return v;
}

// Grid: one workgroup.
@compute @workgroup_size(WG_X)
fn tsne_step(@builtin(local_invocation_id) lid: vec3<u32>) {
  let n = shape.count;
  let t = lid.x;
  var z = 0.0;
  for (var i = t; i < n; i = i + WG_X) {
    z = z + z_totals[i];
  }
  let inv_z = 1.0 / workgroup_sum(t, z);
  var s = vec2<f32>(0.0);
  for (var i = t; i < n; i = i + WG_X) {
    let attr = vec2<f32>(totals[4u * i], totals[4u * i + 1u]);
    let rep = vec2<f32>(totals[4u * i + 2u], totals[4u * i + 3u]);
    let g = 4.0 * (shape.exaggeration * attr - rep * inv_z);
    s = s + vec2<f32>(step_one(2u * i, g.x), step_one(2u * i + 1u, g.y));
  }
  let mean = vec2<f32>(workgroup_sum(t, s.x), workgroup_sum(t, s.y)) / f32(n);
  for (var i = t; i < n; i = i + WG_X) {
    y[2u * i] = y[2u * i] - mean.x;
    y[2u * i + 1u] = y[2u * i + 1u] - mean.y;
  }
}
