// `shared_quad` for kernels/gemm.wgsl on devices whose subgroups hold a whole 8-lane workgroup
// (GpuContext.info.subgroupSize 8, e.g. llvmpipe with AVX2 vectors): lane l loads texels l and
// l + 8, subgroupBroadcast hands them round. Without it llvmpipe loads all 16 in every lane (it
// cannot tell the addresses are the same).
// The lane is the workgroup's local invocation index, which is the subgroup invocation id when
// one subgroup holds the workgroup. (`enable subgroups;` is left out: Naga 29 rejects it and
// enables the builtins with the device feature.)

fn shared_quad(r0: u32, kq: u32, lane: u32) -> SharedQuad {
  let lo = a_texel(r0, kq, lane);
  let hi = a_texel(r0, kq, lane + 8u);
  return shared_blocks(subgroupBroadcast(lo, 0u), subgroupBroadcast(lo, 1u),
    subgroupBroadcast(lo, 2u), subgroupBroadcast(lo, 3u), subgroupBroadcast(lo, 4u),
    subgroupBroadcast(lo, 5u), subgroupBroadcast(lo, 6u), subgroupBroadcast(lo, 7u),
    subgroupBroadcast(hi, 0u), subgroupBroadcast(hi, 1u), subgroupBroadcast(hi, 2u),
    subgroupBroadcast(hi, 3u), subgroupBroadcast(hi, 4u), subgroupBroadcast(hi, 5u),
    subgroupBroadcast(hi, 6u), subgroupBroadcast(hi, 7u));
}
