// `shared_quad` for kernels/linear.wgsl on devices whose subgroups hold a whole 8-lane workgroup
// (GpuContext.subgroups): each lane loads 2 of the 16 texels, subgroupBroadcast hands them round.
// Without it llvmpipe loads all 16 in every lane (it cannot tell the addresses are the same):
// measured there (JIT code read with gdb), the GEMM loop takes 1,750 instead of 2,400
// instructions per reduction quad.
// The lane is the workgroup's local invocation index, which is the subgroup invocation id when
// one subgroup holds the workgroup. (`enable subgroups;` is left out: Naga 29 rejects it and
// enables the builtins with the device feature.)

fn shared_quad(r0: u32, kq: u32, lane: u32) -> SharedQuad {
  let g0 = a_texel(r0, kq, 0u, lane);
  let g1 = a_texel(r0, kq, 1u, lane);
  return SharedQuad(
    a_block(subgroupBroadcast(g0, 0u), subgroupBroadcast(g0, 1u), subgroupBroadcast(g0, 2u),
      subgroupBroadcast(g0, 3u)),
    a_block(subgroupBroadcast(g0, 4u), subgroupBroadcast(g0, 5u), subgroupBroadcast(g0, 6u),
      subgroupBroadcast(g0, 7u)),
    a_block(subgroupBroadcast(g1, 0u), subgroupBroadcast(g1, 1u), subgroupBroadcast(g1, 2u),
      subgroupBroadcast(g1, 3u)),
    a_block(subgroupBroadcast(g1, 4u), subgroupBroadcast(g1, 5u), subgroupBroadcast(g1, 6u),
      subgroupBroadcast(g1, 7u)),
  );
}
