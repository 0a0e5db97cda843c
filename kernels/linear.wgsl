// Linear layer with W stored [inDim, outDim] row-major:
//   forward   y = x·W + b
//   backward  dx += dy·Wᵀ,  dw += xᵀ·dy,  db += column sums of dy
// All three products are one GEMM, C (=|+=) A·B, shaped for Mesa's llvmpipe, which runs 8
// invocations as the lanes of one AVX2 vector and turns every load whose address it cannot
// prove uniform into a loop or a gather over the lanes. Measured there (src/ops/linear.ts has the
// figures): a texel load from a read-only rgba32float storage texture is the cheapest way to
// fetch data in a loop (8 sixteen-byte loads and a transpose for 8 lanes), well ahead of
// uniform-buffer gathers, sampled textures and storage buffers (a loop over the lanes). So:
//   * A and B are copied into rgba32float textures whose texel (q, r) holds S[r, 4q..4q+3] of
//     their row-major source S, zero-padded, so the GEMM reads whole tiles without bounds checks.
//     S is the operand itself, or its transpose (A_T, B_T): dw += xᵀ·dy and dx += dy·Wᵀ read x and
//     W as they are stored, and transpose 4 x 4 blocks in registers;
//   * all lanes of a workgroup share the same 16 rows of A and own different columns of C;
//   * each invocation keeps a 16 x 8 tile of C in eight mat4x4 accumulators (a mat4x4 here is
//     just four vec4 rows of C, no matrix algebra), so each loaded vec4 feeds 8 or 16 vec4 FMAs;
//   * no vector, matrix or array is ever indexed by a variable: llvmpipe would move it to memory.
// Storage buffers are touched once per element: packing (linear_pack) and writing C.
requires readonly_and_readwrite_storage_textures;

override WG_X: u32 = 8;
// 1: the A (B) texture holds Aᵀ (Bᵀ) row-major.
override A_T: u32 = 0u;
override B_T: u32 = 0u;

// Rows and column quads of C per invocation (the tile is 16 x 8).
const TILE_ROWS = 16u;
const TILE_QUADS = 2u;

// ---------------------------------------------------------------------------------------------
// Packing, when a buffer-to-texture copy cannot do it: the block S[row0.., col0..] of a row-major
// matrix S [rows, cols] becomes texels holding 4 consecutive columns of one row of the block,
// zero past S's edges.

struct Pack {
  rows: u32,
  cols: u32,
  // First row and column of the block.
  row0: u32,
  col0: u32,
}

@group(0) @binding(0) var<uniform> pack: Pack;
@group(0) @binding(1) var<storage, read> pack_src: array<f32>;
@group(0) @binding(2) var pack_texture: texture_storage_2d<rgba32float, write>;

// S[r, c], zero past the edges.
fn pack_at(r: u32, c: u32) -> f32 {
  if (r >= pack.rows || c >= pack.cols) {
    return 0.0;
  }
  return pack_src[r * pack.cols + c];
}

// One texel per invocation; the grid covers the whole (padded) texture. Components are named,
// never indexed by a variable: on llvmpipe a variable index into a vector sends it to memory.
@compute @workgroup_size(WG_X)
fn linear_pack(@builtin(global_invocation_id) gid: vec3<u32>) {
  let size = textureDimensions(pack_texture);
  if (gid.x < size.x && gid.y < size.y) {
    let r = pack.row0 + gid.y;
    let c = pack.col0 + gid.x * 4u;
    let quad = vec4<f32>(pack_at(r, c), pack_at(r, c + 1u), pack_at(r, c + 2u), pack_at(r, c + 3u));
    textureStore(pack_texture, gid.xy, quad);
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM over one chunk: C[out_row + r, out_col + c] (=|+=) sum over the chunk's reduction of
// A[r, k] B[k, c] for r < rows, c < cols; A and B are the chunk's packed blocks (of Aᵀ, Bᵀ with A_T, B_T).

struct Gemm {
  // Rows and columns of C in this chunk.
  rows: u32,
  cols: u32,
  // Reduction quads in this chunk.
  quads: u32,
  // First output row and column, and the row length of C.
  out_row: u32,
  out_col: u32,
  ldc: u32,
}

@group(0) @binding(0) var<uniform> gemm: Gemm;
@group(0) @binding(1) var gemm_a: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var gemm_b: texture_storage_2d<rgba32float, read>;
// Read by linear_forward only; linear_backward binds a placeholder.
@group(0) @binding(3) var<storage, read> gemm_bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> gemm_c: array<f32>;

// Texels (x, y..y+3) as the rows of a matrix.
fn texels_down(t: texture_storage_2d<rgba32float, read>, x: u32, y: u32) -> mat4x4<f32> {
  return mat4x4<f32>(
    textureLoad(t, vec2<u32>(x, y)),
    textureLoad(t, vec2<u32>(x, y + 1u)),
    textureLoad(t, vec2<u32>(x, y + 2u)),
    textureLoad(t, vec2<u32>(x, y + 3u)),
  );
}

// Rows r..r+3 of A at reduction quad kq: element i is A[r + i, 4kq..4kq+3]. With A_T the texel
// (r/4, 4kq + j) holds A[r..r+3, 4kq + j], a column of the block.
fn a_block(r: u32, kq: u32) -> mat4x4<f32> {
  if (A_T == 1u) {
    return transpose(texels_down(gemm_a, r / 4u, kq * 4u));
  }
  return texels_down(gemm_a, kq, r);
}

// Rows 4kq..4kq+3 of B at column quad c: element j is B[4kq + j, 4c..4c+3]. With B_T the texel
// (kq, 4c + i) holds B[4kq..4kq+3, 4c + i], a column of the block.
fn b_block(c: u32, kq: u32) -> mat4x4<f32> {
  if (B_T == 1u) {
    return transpose(texels_down(gemm_b, kq, c * 4u));
  }
  return texels_down(gemm_b, c, kq * 4u);
}

// acc[i] += sum_j a[i][j] * b[j]: four rows of C gain one 4 x 4 block product.
fn mac(acc: mat4x4<f32>, a: mat4x4<f32>, b: mat4x4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(mac_row(acc[0], a[0], b), mac_row(acc[1], a[1], b), mac_row(acc[2], a[2], b),
    mac_row(acc[3], a[3], b));
}

// c + sum_j a[j] * b[j]
fn mac_row(c: vec4<f32>, a: vec4<f32>, b: mat4x4<f32>) -> vec4<f32> {
  return fma(b[3], vec4<f32>(a.w), fma(b[2], vec4<f32>(a.z), fma(b[1], vec4<f32>(a.y),
    fma(b[0], vec4<f32>(a.x), c))));
}

// The 16 x 8 tile of C at rows r0.., column quads c0..: t<i><j> holds rows r0 + 4i.. and column
// quad c0 + j. Named accumulators, and an epilogue that names them too: indexing them with a
// variable would put the tile in memory (25x slower, measured).
struct Tile {
  t00: mat4x4<f32>, t01: mat4x4<f32>,
  t10: mat4x4<f32>, t11: mat4x4<f32>,
  t20: mat4x4<f32>, t21: mat4x4<f32>,
  t30: mat4x4<f32>, t31: mat4x4<f32>,
}

// Starts from `init` (per column quad) in every row.
fn gemm_tile(r0: u32, c0: u32, init0: vec4<f32>, init1: vec4<f32>) -> Tile {
  let i0 = mat4x4<f32>(init0, init0, init0, init0);
  let i1 = mat4x4<f32>(init1, init1, init1, init1);
  var t = Tile(i0, i1, i0, i1, i0, i1, i0, i1);
  for (var kq = 0u; kq < gemm.quads; kq++) {
    let b0 = b_block(c0, kq);
    let b1 = b_block(c0 + 1u, kq);
    var a = a_block(r0, kq);
    t.t00 = mac(t.t00, a, b0);
    t.t01 = mac(t.t01, a, b1);
    a = a_block(r0 + 4u, kq);
    t.t10 = mac(t.t10, a, b0);
    t.t11 = mac(t.t11, a, b1);
    a = a_block(r0 + 8u, kq);
    t.t20 = mac(t.t20, a, b0);
    t.t21 = mac(t.t21, a, b1);
    a = a_block(r0 + 12u, kq);
    t.t30 = mac(t.t30, a, b0);
    t.t31 = mac(t.t31, a, b1);
  }
  return t;
}

// Writes one 4 x 4 block of C at chunk row r, column quad q: C = block (forward: the tile
// started from the bias) or C += block (backward), skipping what lies past the edges.
fn store_block(r: u32, q: u32, block: mat4x4<f32>, forward: bool) {
  store_row(r, q, block[0], forward);
  store_row(r + 1u, q, block[1], forward);
  store_row(r + 2u, q, block[2], forward);
  store_row(r + 3u, q, block[3], forward);
}

fn store_row(r: u32, q: u32, v: vec4<f32>, forward: bool) {
  if (r >= gemm.rows) {
    return;
  }
  let c = q * 4u;
  let at = (gemm.out_row + r) * gemm.ldc + gemm.out_col + c;
  if (forward) {
    if (c < gemm.cols) { gemm_c[at] = v.x; }
    if (c + 1u < gemm.cols) { gemm_c[at + 1u] = v.y; }
    if (c + 2u < gemm.cols) { gemm_c[at + 2u] = v.z; }
    if (c + 3u < gemm.cols) { gemm_c[at + 3u] = v.w; }
  } else {
    if (c < gemm.cols) { gemm_c[at] += v.x; }
    if (c + 1u < gemm.cols) { gemm_c[at + 1u] += v.y; }
    if (c + 2u < gemm.cols) { gemm_c[at + 2u] += v.z; }
    if (c + 3u < gemm.cols) { gemm_c[at + 3u] += v.w; }
  }
}

fn store_tile(r0: u32, c0: u32, t: Tile, forward: bool) {
  store_block(r0, c0, t.t00, forward);
  store_block(r0, c0 + 1u, t.t01, forward);
  store_block(r0 + 4u, c0, t.t10, forward);
  store_block(r0 + 4u, c0 + 1u, t.t11, forward);
  store_block(r0 + 8u, c0, t.t20, forward);
  store_block(r0 + 8u, c0 + 1u, t.t21, forward);
  store_block(r0 + 12u, c0, t.t30, forward);
  store_block(r0 + 12u, c0 + 1u, t.t31, forward);
}

fn bias_at(c: u32) -> f32 {
  return select(0.0, gemm_bias[gemm.out_col + min(c, gemm.cols - 1u)], c < gemm.cols);
}

// bias[4q..4q+3], zero past the edge.
fn bias_quad(q: u32) -> vec4<f32> {
  let c = q * 4u;
  return vec4<f32>(bias_at(c), bias_at(c + 1u), bias_at(c + 2u), bias_at(c + 3u));
}

// C = A·B + bias over this chunk (the first reduction chunk, when there are several).
@compute @workgroup_size(WG_X)
fn linear_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  store_tile(r0, c0, gemm_tile(r0, c0, bias_quad(c0), bias_quad(c0 + 1u)), true);
}

// C += A·B over this chunk: dx += dy·Wᵀ, dw += xᵀ·dy, and later reduction chunks of y.
@compute @workgroup_size(WG_X)
fn linear_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  store_tile(r0, c0, gemm_tile(r0, c0, vec4<f32>(), vec4<f32>()), false);
}

// ---------------------------------------------------------------------------------------------
// db += column sums of dy over one chunk of its rows, read from that chunk's packed texture
// (texel (q, r) = dy[row0 + r, 4q..4q+3]).

struct BiasGrad {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> bias_grad: BiasGrad;
@group(0) @binding(1) var bias_dy: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> bias_db: array<f32>;

@compute @workgroup_size(WG_X)
fn linear_bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q * 4u >= bias_grad.cols) {
    return;
  }
  var sum = vec4<f32>(0.0);
  for (var r = 0u; r < bias_grad.rows; r++) {
    sum += textureLoad(bias_dy, vec2<u32>(q, r));
  }
  add_bias_grad(q * 4u, sum.x);
  add_bias_grad(q * 4u + 1u, sum.y);
  add_bias_grad(q * 4u + 2u, sum.z);
  add_bias_grad(q * 4u + 3u, sum.w);
}

fn add_bias_grad(c: u32, value: f32) {
  if (c < bias_grad.cols) {
    bias_db[c] = bias_db[c] + value;
  }
}
