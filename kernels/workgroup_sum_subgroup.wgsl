// `workgroup_sum` for kernels whose workgroup is exactly one subgroup (src/ops/workgroup_sum.ts):
// subgroupAdd, no workgroup memory and no barrier. On llvmpipe the sum is a few shuffles inside
// one CPU vector, where a barrier would switch coroutines.

// The sum of `value` over the workgroup (t, the local invocation index, is not needed); every
// invocation gets it. Call it from uniform control flow.
fn workgroup_sum(t: u32, value: f32) -> f32 {
  return subgroupAdd(value);
}
