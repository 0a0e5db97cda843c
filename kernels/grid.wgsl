// Indices on the host's grids (src/ops/grid.ts), a library for the kernels that include it.
// Past 65,535 workgroups the host lays them out in 2-D; a kernel numbers them row by row and
// checks the number against its item count (the 2-D grid may hold a few groups too many).
// Elementwise kernels move quads of 4 consecutive elements (src/ops/shapes.ts quadView).
// WG_X is the including kernel's workgroup size.

// The workgroup's number in a 2-D grid of 1-D workgroups.
fn flat_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.y * nwg.x + wid.x;
}

// The invocation's number in a 2-D grid of 1-D workgroups.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
  return flat_group(wid, nwg) * WG_X + lid.x;
}

// The element indices of quad q.
fn quad_index(q: u32) -> vec4<u32> {
  return vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
}

// Which components of quad q lie before `length`.
fn quad_live(q: u32, length: u32) -> vec4<bool> {
  return quad_index(q) < vec4<u32>(length);
}
