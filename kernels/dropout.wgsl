// Inverted dropout with a counter-based mask: element i is kept when the top 24 bits of
//   pcg_hash(pcg_hash(i) ^ pcg_hash(seed))
// are >= threshold (= round(p · 2^24)), so the mask is a pure function of (seed, i): runs are
// reproducible and the backward recomputes the mask instead of storing it. The CPU twin
// (src/reference/dropout.ts) does the same u32 arithmetic, so masks match bit for bit.
//   forward   y = keep ? x · scale : 0            scale = 1 / (1 - p)   (0 when p = 1)
//   backward  dx += keep ? dy · scale : 0
// Four consecutive elements per invocation, as vec4s (src/ops/shapes.ts quadView: on llvmpipe a
// vec4 storage access costs about what a scalar one does); the last quad's components past
// `length` are written back unchanged. 2-D grid of 1-D workgroups (kernels/grid.wgsl).

override WG_X: u32 = 256;

struct Params {
  length: u32,
  seed: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;

// PCG hash (Jarzynski & Olano 2020): an LCG step, then the RXS-M-XS output permutation.
fn pcg_hash(v: vec4<u32>) -> vec4<u32> {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> vec4<u32>(28u)) + 4u)) ^ state) * 277803737u;
  return (word >> vec4<u32>(22u)) ^ word;
}

// The factors elements i are multiplied by: scale if kept, else 0.
fn mask_scale(i: vec4<u32>) -> vec4<f32> {
  let bits = pcg_hash(pcg_hash(i) ^ pcg_hash(vec4<u32>(params.seed)));
  return select(vec4<f32>(0.0), vec4<f32>(params.scale), (bits >> vec4<u32>(8u)) >= vec4<u32>(params.threshold));
}

@compute @workgroup_size(WG_X)
fn dropout_forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let i = quad_index(q);
  let keep = i < vec4<u32>(params.length);
  if (!keep.x) {
    return;
  }
  let out = x[q] * mask_scale(i);
  if (all(keep)) {
    y[q] = out;
  } else {
    y[q] = select(y[q], out, keep);
  }
}

@compute @workgroup_size(WG_X)
fn dropout_backward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let i = quad_index(q);
  let keep = i < vec4<u32>(params.length);
  if (!keep.x) {
    return;
  }
  let old = dx[q];
  dx[q] = select(old, old + dy[q] * mask_scale(i), keep);
}
