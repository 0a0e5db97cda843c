// `shared_quad` for kernels/gemm.wgsl on devices whose subgroups hold a whole 16-lane workgroup
// (GpuContext.info.subgroupSize >= 16, e.g. llvmpipe with AVX-512 vectors): lane l loads texel l,
// subgroupBroadcast hands them round. The lane is the workgroup's local invocation index, which
// is the subgroup invocation id when one subgroup holds the workgroup.

fn shared_quad(r0: u32, kq: u32, lane: u32) -> SharedQuad {
  let t = a_texel(r0, kq, lane);
  return shared_blocks(subgroupBroadcast(t, 0u), subgroupBroadcast(t, 1u),
    subgroupBroadcast(t, 2u), subgroupBroadcast(t, 3u), subgroupBroadcast(t, 4u),
    subgroupBroadcast(t, 5u), subgroupBroadcast(t, 6u), subgroupBroadcast(t, 7u),
    subgroupBroadcast(t, 8u), subgroupBroadcast(t, 9u), subgroupBroadcast(t, 10u),
    subgroupBroadcast(t, 11u), subgroupBroadcast(t, 12u), subgroupBroadcast(t, 13u),
    subgroupBroadcast(t, 14u), subgroupBroadcast(t, 15u));
}
