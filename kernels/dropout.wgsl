// Inverted dropout with a counter-based mask: element i is kept when the top 24 bits of
//   pcg_hash(pcg_hash(i) ^ pcg_hash(seed))
// are >= threshold (= round(p · 2^24)), so the mask is a pure function of (seed, i): runs are
// reproducible and the backward recomputes the mask instead of storing it. The CPU twin
// (src/reference/dropout.ts) does the same u32 arithmetic, so masks match bit for bit.
//   forward   y = keep ? x · scale : 0            scale = 1 / (1 - p)   (0 when p = 1)
//   backward  dx += keep ? dy · scale : 0
// One element per invocation; 2-D grid of 1-D workgroups (src/ops/grid.ts).

override WG_X: u32 = 256;

struct Params {
  length: u32,
  seed: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG_X + lid.x;
}

// PCG hash (Jarzynski & Olano 2020): an LCG step, then the RXS-M-XS output permutation.
fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// The factor element i is multiplied by: scale if kept, else 0.
fn mask_scale(i: u32) -> f32 {
  let bits = pcg_hash(pcg_hash(i) ^ pcg_hash(params.seed));
  return select(0.0, params.scale, (bits >> 8u) >= params.threshold);
}

@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;

@compute @workgroup_size(WG_X)
fn dropout_forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.length) {
    fwd_y[i] = fwd_x[i] * mask_scale(i);
  }
}

@group(0) @binding(1) var<storage, read> bwd_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwd_dx: array<f32>;

@compute @workgroup_size(WG_X)
fn dropout_backward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let i = flat_index(wid, nwg, lid);
  if (i < params.length) {
    bwd_dx[i] = bwd_dx[i] + bwd_dy[i] * mask_scale(i);
  }
}
