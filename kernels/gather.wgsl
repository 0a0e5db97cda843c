// Row gather (batch assembly):  dst[i, :] = src[index[offset + i], :]  for i < rows.
// Data are moved as u32 words, so f32 and i32 buffers are copied bit for bit. An index outside
// src (>= src_rows) yields a row of zeros: a kernel cannot throw, the CPU twin does.
// One word per invocation; 2-D grid of 1-D workgroups (kernels/grid.wgsl).

override WG_X: u32 = 256;

struct Shape {
  rows: u32,
  dim: u32,
  offset: u32,
  src_rows: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WG_X)
fn gather_rows(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let i = flat_index(wid, nwg, lid);
  if (i >= shape.rows * shape.dim) {
    return;
  }
  let row = i / shape.dim;
  let col = i - row * shape.dim;
  let src_row = index[shape.offset + row];
  var word = 0u;
  if (src_row < shape.src_rows) {
    word = src[src_row * shape.dim + col];
  }
  dst[i] = word;
}
