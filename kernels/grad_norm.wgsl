// Global L2 norm of a flat buffer, out[0] = sqrt(sum x²), in two passes:
//   grad_norm_partial   workgroup g sums the squares of its CHUNK · WG_X quads of elements
//                       (each invocation CHUNK of them, WG_X apart, then `workgroup_sum`) into
//                       partials[g]; 2-D grid of 1-D workgroups (kernels/grid.wgsl).
//                       x is read as vec4s (src/ops/shapes.ts quadView: on llvmpipe a vec4
//                       storage access costs about what a scalar one does); components past
//                       `length` count as zero
//   grad_norm_final     one workgroup sums the partials and writes the square root
// Sums stay short (CHUNK terms per invocation, then trees), which keeps float32 rounding near
// 1e-7 relative for millions of elements. `workgroup_sum` comes from a companion file for the
// device (src/ops/workgroup_sum.ts: one subgroup's subgroupAdd, or a tree in workgroup memory).

override WG_X: u32 = 64;
override CHUNK: u32 = 128;

struct Shape {
  // grad_norm_partial: elements of x; grad_norm_final: number of partials.
  length: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
// One sum of squares per workgroup of the first pass: written as partials_out, read as partials.
@group(0) @binding(2) var<storage, read_write> partials_out: array<f32>;
@group(0) @binding(3) var<storage, read> partials: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X)
fn grad_norm_partial(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let group = flat_group(wid, nwg);
  let base = group * CHUNK * WG_X + lid.x;
  var sq = 0.0;
  for (var k = 0u; k < CHUNK; k = k + 1u) {
    let q = base + k * WG_X;
    let index = quad_index(q);
    if (index.x < shape.length) {
      let v = select(vec4<f32>(0.0), x[q], index < vec4<u32>(shape.length));
      sq = sq + dot(v, v);
    }
  }
  let total = workgroup_sum(lid.x, sq);
  if (lid.x == 0u) {
    partials_out[group] = total;
  }
}

@compute @workgroup_size(WG_X)
fn grad_norm_final(@builtin(local_invocation_id) lid: vec3<u32>) {
  var sum = 0.0;
  for (var i = lid.x; i < shape.length; i = i + WG_X) {
    sum = sum + partials[i];
  }
  let total = workgroup_sum(lid.x, sum);
  if (lid.x == 0u) {
    out[0] = sqrt(total);
  }
}
