// `shared_quad` for kernels/gemm.wgsl on devices without subgroups (or with subgroups smaller
// than the 8-lane workgroup): every lane loads all 16 texels itself.

fn shared_quad(r0: u32, kq: u32, lane: u32) -> SharedQuad {
  return shared_blocks(a_texel(r0, kq, 0u), a_texel(r0, kq, 1u), a_texel(r0, kq, 2u),
    a_texel(r0, kq, 3u), a_texel(r0, kq, 4u), a_texel(r0, kq, 5u), a_texel(r0, kq, 6u),
    a_texel(r0, kq, 7u), a_texel(r0, kq, 8u), a_texel(r0, kq, 9u), a_texel(r0, kq, 10u),
    a_texel(r0, kq, 11u), a_texel(r0, kq, 12u), a_texel(r0, kq, 13u), a_texel(r0, kq, 14u),
    a_texel(r0, kq, 15u));
}
