// `shared_quad` for kernels/linear.wgsl on devices without subgroups (or with subgroups smaller
// than the 8-lane workgroup): every lane loads all 16 texels itself, as lanes 0..7 would.

fn shared_quad(r0: u32, kq: u32, lane: u32) -> SharedQuad {
  return SharedQuad(
    a_block(a_texel(r0, kq, 0u, 0u), a_texel(r0, kq, 0u, 1u), a_texel(r0, kq, 0u, 2u),
      a_texel(r0, kq, 0u, 3u)),
    a_block(a_texel(r0, kq, 0u, 4u), a_texel(r0, kq, 0u, 5u), a_texel(r0, kq, 0u, 6u),
      a_texel(r0, kq, 0u, 7u)),
    a_block(a_texel(r0, kq, 1u, 0u), a_texel(r0, kq, 1u, 1u), a_texel(r0, kq, 1u, 2u),
      a_texel(r0, kq, 1u, 3u)),
    a_block(a_texel(r0, kq, 1u, 4u), a_texel(r0, kq, 1u, 5u), a_texel(r0, kq, 1u, 6u),
      a_texel(r0, kq, 1u, 7u)),
  );
}
