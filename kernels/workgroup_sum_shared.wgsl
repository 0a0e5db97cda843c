// `workgroup_sum` for devices without subgroups (src/ops/workgroup_sum.ts): a tree in workgroup
// memory over WG_X invocations (a power of two).

var<workgroup> workgroup_partials: array<f32, WG_X>;

// The sum of `value` over the workgroup; t is the local invocation index. Every invocation gets
// the sum. Call it from uniform control flow.
fn workgroup_sum(t: u32, value: f32) -> f32 {
  workgroup_partials[t] = value;
  workgroupBarrier();
  for (var stride = WG_X / 2u; stride > 0u; stride = stride / 2u) {
    if (t < stride) {
      workgroup_partials[t] = workgroup_partials[t] + workgroup_partials[t + stride];
    }
    workgroupBarrier();
  }
  let total = workgroup_partials[0];
  workgroupBarrier();
  return total;
}
