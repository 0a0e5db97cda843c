// General matrix product over one chunk, C (=|+=) A·B: the products of the linear layer, the
// similarity and SupCon (src/ops/gemm.ts; CPU twin src/reference/gemm.ts).
//   gemm_store       C = A·B + bias  (the first reduction chunk of a product with a bias)
//   gemm_accumulate  C += A·B
//   gemm_pack        a block of a row-major buffer into a texture, when a copy cannot do it
// Shaped for Mesa's llvmpipe, which runs 8 (AVX2) or 16 (AVX-512) invocations as the lanes of one
// CPU vector and loads lane by lane every address it cannot prove uniform; a read-only
// rgba32float storage texture is its cheapest load in a loop (README, "What we learned about
// Mesa's llvmpipe"). So:
//   * A and B are copied into rgba32float textures whose texel (q, r) holds S[r, 4q..4q+3] of
//     their row-major source S, zero-padded, so the GEMM reads whole tiles without bounds checks.
//     S is the operand itself, or its transpose (A_T, B_T): dw += xᵀ·dy and dx += dy·Wᵀ read x and
//     W as they are stored, and transpose 4 x 4 blocks in registers;
//   * the lanes of a workgroup (WG_X: 8, or 16 where a subgroup holds 16) share the same rows of A
//     and own different columns of C. The 16 texels of 16 such rows at one reduction quad come
//     from `shared_quad`, which this file calls and a library defines for the device:
//     gemm_rows_subgroup8.wgsl (each of 8 lanes loads 2 texels and subgroupBroadcast hands
//     them round), gemm_rows_subgroup16.wgsl (each of 16 lanes loads 1), or
//     gemm_rows_lanes.wgsl (every lane loads all 16: devices without subgroups);
//   * each invocation keeps a 32 x 8 block of C as two 16 x 8 tiles (top and bottom), one mat2x4
//     per row (its two column quads), and each row takes one multiply-add chain per loop step of
//     4 reduction quads (STEP_QUADS), so a step's B texels serve 32 rows;
//   * no vector, matrix or array is ever indexed by a variable: llvmpipe would move it to memory.
// Storage buffers are touched once per element: packing (gemm_pack) and writing C.

// gemm_store and gemm_accumulate need the lane count of their `shared_quad` library (the lanes
// that share A's rows); gemm_pack any size.
override WG_X: u32 = 8;
// 1: the A (B) texture holds Aᵀ (Bᵀ) row-major.
override A_T: u32 = 0u;
override B_T: u32 = 0u;

// Rows and column quads of C per invocation (two 16 x 8 tiles).
const TILE_ROWS = 32u;
const TILE_QUADS = 2u;

// ---------------------------------------------------------------------------------------------
// Packing, when a buffer-to-texture copy cannot do it: the block S[row0.., col0..] of a row-major
// matrix S [rows, cols] becomes texels holding 4 consecutive columns of one row of the block,
// zero past S's edges. Only the block's texels are written: the rest of the (padded) texture
// keeps the zeros it was created with.

struct Pack {
  rows: u32,
  cols: u32,
  // First row and column of the block.
  row0: u32,
  col0: u32,
  // The block's texels across and rows.
  width: u32,
  height: u32,
}

@group(0) @binding(0) var<uniform> pack: Pack;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var texels: texture_storage_2d<rgba32float, write>;

// S[r, c], zero past the edges.
fn pack_at(r: u32, c: u32) -> f32 {
  if (r >= pack.rows || c >= pack.cols) {
    return 0.0;
  }
  return src[r * pack.cols + c];
}

// One texel of the block per invocation, numbered row by row; 2-D grid of 1-D workgroups
// (kernels/grid.wgsl). Components are named, never indexed by a variable: on llvmpipe a variable
// index into a vector sends it to memory.
@compute @workgroup_size(WG_X)
fn gemm_pack(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let t = flat_index(wid, nwg, lid);
  if (t < pack.width * pack.height) {
    let y = t / pack.width;
    let x = t - y * pack.width;
    let r = pack.row0 + y;
    let c = pack.col0 + x * 4u;
    let quad = vec4<f32>(pack_at(r, c), pack_at(r, c + 1u), pack_at(r, c + 2u), pack_at(r, c + 3u));
    textureStore(texels, vec2<u32>(x, y), quad);
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

@group(0) @binding(3) var<uniform> gemm: Gemm;
@group(0) @binding(4) var gemm_a: texture_storage_2d<rgba32float, read>;
@group(0) @binding(5) var gemm_b: texture_storage_2d<rgba32float, read>;
// Read by gemm_store only.
@group(0) @binding(6) var<storage, read> gemm_bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> gemm_c: array<f32>;

// Texels (x, y..y+3) of B as the columns of a matrix. The texture is named, not passed: naga's
// GLSL output puts a format qualifier on texture parameters, which GLSL forbids.
fn b_texels_down(x: u32, y: u32) -> mat4x4<f32> {
  return mat4x4<f32>(
    textureLoad(gemm_b, vec2<u32>(x, y)),
    textureLoad(gemm_b, vec2<u32>(x, y + 1u)),
    textureLoad(gemm_b, vec2<u32>(x, y + 2u)),
    textureLoad(gemm_b, vec2<u32>(x, y + 3u)),
  );
}

// The 16 rows r0.. of A that a workgroup shares, at one reduction quad kq, as four 4 x 4
// blocks: column s of block p is A[r0 + 4p + s, 4kq..4kq+3]. `shared_quad` (from the library)
// loads them.
struct SharedQuad {
  p0: mat4x4<f32>,
  p1: mat4x4<f32>,
  p2: mat4x4<f32>,
  p3: mat4x4<f32>,
}

// Texel t (0..15) of the shared rows at reduction quad kq: texel e = t % 4 of block p = t / 4,
// that is row r0 + 4p + e of A, or with A_T column 4kq + e of the block (texel (r0/4 + p,
// 4kq + e) holds A[r0 + 4p..+3, 4kq + e]).
fn a_texel(r0: u32, kq: u32, t: u32) -> vec4<f32> {
  let p = t / 4u;
  let e = t % 4u;
  if (A_T == 1u) {
    return textureLoad(gemm_a, vec2<u32>(r0 / 4u + p, kq * 4u + e));
  }
  return textureLoad(gemm_a, vec2<u32>(kq, r0 + 4u * p + e));
}

// A block from its four texels (e = 0..3): its rows, or with A_T its columns.
fn a_block(t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>) -> mat4x4<f32> {
  let block = mat4x4<f32>(t0, t1, t2, t3);
  if (A_T == 1u) {
    return transpose(block);
  }
  return block;
}

// The shared rows from their 16 texels (tN = a_texel(r0, kq, N)), as `shared_quad` returns them.
fn shared_blocks(t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>, t4: vec4<f32>,
  t5: vec4<f32>, t6: vec4<f32>, t7: vec4<f32>, t8: vec4<f32>, t9: vec4<f32>, t10: vec4<f32>,
  t11: vec4<f32>, t12: vec4<f32>, t13: vec4<f32>, t14: vec4<f32>, t15: vec4<f32>) -> SharedQuad {
  return SharedQuad(a_block(t0, t1, t2, t3), a_block(t4, t5, t6, t7), a_block(t8, t9, t10, t11),
    a_block(t12, t13, t14, t15));
}

// Rows 4kq..4kq+3 of B at column quad c: column j is B[4kq + j, 4c..4c+3]. With B_T the texel
// (kq, 4c + i) holds B[4kq..4kq+3, 4c + i], a column of the block.
fn b_block(c: u32, kq: u32) -> mat4x4<f32> {
  if (B_T == 1u) {
    return transpose(b_texels_down(kq, c * 4u));
  }
  return b_texels_down(c, kq * 4u);
}

// A lane's 8 columns of B (quads c0 and c0 + 1) at reduction rows 4kq + j, j = 0..3.
struct BRows {
  k0: mat2x4<f32>,
  k1: mat2x4<f32>,
  k2: mat2x4<f32>,
  k3: mat2x4<f32>,
}

fn b_rows(c0: u32, kq: u32) -> BRows {
  let lo = b_block(c0, kq);
  let hi = b_block(c0 + 1u, kq);
  return BRows(mat2x4<f32>(lo[0], hi[0]), mat2x4<f32>(lo[1], hi[1]), mat2x4<f32>(lo[2], hi[2]),
    mat2x4<f32>(lo[3], hi[3]));
}

// One loop step covers STEP_QUADS reduction quads (16 values): per step every accumulator takes
// one chain of 16 multiply-adds, so llvmpipe blends it with the loop mask and spills it once
// per 16 instead of once per 4. The textures are zero-padded to multiples of 16 texels, so a step never reads past them.
const STEP_QUADS = 4u;

// Row I of the shared rows over the step's quads: column u of rI is A[r0 + I, 4(kq + u)..+3].
struct ARows {
  r0: mat4x4<f32>, r1: mat4x4<f32>, r2: mat4x4<f32>, r3: mat4x4<f32>,
  r4: mat4x4<f32>, r5: mat4x4<f32>, r6: mat4x4<f32>, r7: mat4x4<f32>,
  r8: mat4x4<f32>, r9: mat4x4<f32>, r10: mat4x4<f32>, r11: mat4x4<f32>,
  r12: mat4x4<f32>, r13: mat4x4<f32>, r14: mat4x4<f32>, r15: mat4x4<f32>,
}

fn a_rows(r0: u32, kq: u32, lane: u32) -> ARows {
  let q0 = shared_quad(r0, kq, lane);
  let q1 = shared_quad(r0, kq + 1u, lane);
  let q2 = shared_quad(r0, kq + 2u, lane);
  let q3 = shared_quad(r0, kq + 3u, lane);
  return ARows(
    mat4x4<f32>(q0.p0[0], q1.p0[0], q2.p0[0], q3.p0[0]),
    mat4x4<f32>(q0.p0[1], q1.p0[1], q2.p0[1], q3.p0[1]),
    mat4x4<f32>(q0.p0[2], q1.p0[2], q2.p0[2], q3.p0[2]),
    mat4x4<f32>(q0.p0[3], q1.p0[3], q2.p0[3], q3.p0[3]),
    mat4x4<f32>(q0.p1[0], q1.p1[0], q2.p1[0], q3.p1[0]),
    mat4x4<f32>(q0.p1[1], q1.p1[1], q2.p1[1], q3.p1[1]),
    mat4x4<f32>(q0.p1[2], q1.p1[2], q2.p1[2], q3.p1[2]),
    mat4x4<f32>(q0.p1[3], q1.p1[3], q2.p1[3], q3.p1[3]),
    mat4x4<f32>(q0.p2[0], q1.p2[0], q2.p2[0], q3.p2[0]),
    mat4x4<f32>(q0.p2[1], q1.p2[1], q2.p2[1], q3.p2[1]),
    mat4x4<f32>(q0.p2[2], q1.p2[2], q2.p2[2], q3.p2[2]),
    mat4x4<f32>(q0.p2[3], q1.p2[3], q2.p2[3], q3.p2[3]),
    mat4x4<f32>(q0.p3[0], q1.p3[0], q2.p3[0], q3.p3[0]),
    mat4x4<f32>(q0.p3[1], q1.p3[1], q2.p3[1], q3.p3[1]),
    mat4x4<f32>(q0.p3[2], q1.p3[2], q2.p3[2], q3.p3[2]),
    mat4x4<f32>(q0.p3[3], q1.p3[3], q2.p3[3], q3.p3[3]),
  );
}

// The lane's 8 columns of B over the step's quads.
struct BSteps {
  q0: BRows,
  q1: BRows,
  q2: BRows,
  q3: BRows,
}

fn b_steps(c0: u32, kq: u32) -> BSteps {
  return BSteps(b_rows(c0, kq), b_rows(c0, kq + 1u), b_rows(c0, kq + 2u), b_rows(c0, kq + 3u));
}

// c + sum_j a[j] * B[4kq + j, lane's columns] over one quad.
fn mac_quad(c: mat2x4<f32>, a: vec4<f32>, b: BRows) -> mat2x4<f32> {
  return c + b.k0 * a.x + b.k1 * a.y + b.k2 * a.z + b.k3 * a.w;
}

// One row of the tile over the step: a is that row's ARows entry.
fn mac_row(c: mat2x4<f32>, a: mat4x4<f32>, b: BSteps) -> mat2x4<f32> {
  return mac_quad(mac_quad(mac_quad(mac_quad(c, a[0], b.q0), a[1], b.q1), a[2], b.q2), a[3], b.q3);
}

// A 16 x 8 tile of C at rows r0.., column quads c0, c0 + 1: rI is row r0 + I. Named
// accumulators, and an epilogue that names them too: indexing them with a variable would put the
// tile in memory.
struct Tile {
  r0: mat2x4<f32>, r1: mat2x4<f32>, r2: mat2x4<f32>, r3: mat2x4<f32>,
  r4: mat2x4<f32>, r5: mat2x4<f32>, r6: mat2x4<f32>, r7: mat2x4<f32>,
  r8: mat2x4<f32>, r9: mat2x4<f32>, r10: mat2x4<f32>, r11: mat2x4<f32>,
  r12: mat2x4<f32>, r13: mat2x4<f32>, r14: mat2x4<f32>, r15: mat2x4<f32>,
}

// The tile after one loop step: every row takes its chain of multiply-adds.
fn mac_tile(t: Tile, a: ARows, b: BSteps) -> Tile {
  return Tile(
    mac_row(t.r0, a.r0, b),
    mac_row(t.r1, a.r1, b),
    mac_row(t.r2, a.r2, b),
    mac_row(t.r3, a.r3, b),
    mac_row(t.r4, a.r4, b),
    mac_row(t.r5, a.r5, b),
    mac_row(t.r6, a.r6, b),
    mac_row(t.r7, a.r7, b),
    mac_row(t.r8, a.r8, b),
    mac_row(t.r9, a.r9, b),
    mac_row(t.r10, a.r10, b),
    mac_row(t.r11, a.r11, b),
    mac_row(t.r12, a.r12, b),
    mac_row(t.r13, a.r13, b),
    mac_row(t.r14, a.r14, b),
    mac_row(t.r15, a.r15, b),
  );
}

// The two 16-row tiles of an invocation: rows r0.. and r0 + 16.., column quads c0, c0 + 1.
struct Tiles {
  top: Tile,
  bottom: Tile,
}

fn gemm_tiles(r0: u32, c0: u32, lane: u32) -> Tiles {
  var top = Tile();
  var bottom = Tile();
  for (var kq = 0u; kq < gemm.quads; kq += STEP_QUADS) {
    let b = b_steps(c0, kq);
    top = mac_tile(top, a_rows(r0, kq, lane), b);
    bottom = mac_tile(bottom, a_rows(r0 + 16u, kq, lane), b);
  }
  return Tiles(top, bottom);
}

// Writes row r of the chunk, column quads c0 and c0 + 1: C = row (`overwrite`: gemm_store) or
// C += row (gemm_accumulate), skipping what lies past the edges.
fn store_pair(r: u32, c0: u32, row: mat2x4<f32>, overwrite: bool) {
  store_row(r, c0, row[0], overwrite);
  store_row(r, c0 + 1u, row[1], overwrite);
}

fn store_row(r: u32, q: u32, v: vec4<f32>, overwrite: bool) {
  if (r >= gemm.rows) {
    return;
  }
  let c = q * 4u;
  let at = (gemm.out_row + r) * gemm.ldc + gemm.out_col + c;
  if (overwrite) {
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

fn store_tile(r0: u32, c0: u32, t: Tile, overwrite: bool) {
  store_pair(r0, c0, t.r0, overwrite);
  store_pair(r0 + 1u, c0, t.r1, overwrite);
  store_pair(r0 + 2u, c0, t.r2, overwrite);
  store_pair(r0 + 3u, c0, t.r3, overwrite);
  store_pair(r0 + 4u, c0, t.r4, overwrite);
  store_pair(r0 + 5u, c0, t.r5, overwrite);
  store_pair(r0 + 6u, c0, t.r6, overwrite);
  store_pair(r0 + 7u, c0, t.r7, overwrite);
  store_pair(r0 + 8u, c0, t.r8, overwrite);
  store_pair(r0 + 9u, c0, t.r9, overwrite);
  store_pair(r0 + 10u, c0, t.r10, overwrite);
  store_pair(r0 + 11u, c0, t.r11, overwrite);
  store_pair(r0 + 12u, c0, t.r12, overwrite);
  store_pair(r0 + 13u, c0, t.r13, overwrite);
  store_pair(r0 + 14u, c0, t.r14, overwrite);
  store_pair(r0 + 15u, c0, t.r15, overwrite);
}

fn bias_at(c: u32) -> f32 {
  return select(0.0, gemm_bias[gemm.out_col + min(c, gemm.cols - 1u)], c < gemm.cols);
}

// bias[4q..4q+3], zero past the edge.
fn bias_quad(q: u32) -> vec4<f32> {
  let c = q * 4u;
  return vec4<f32>(bias_at(c), bias_at(c + 1u), bias_at(c + 2u), bias_at(c + 3u));
}

// The tile with `bias` added to every row.
fn with_bias(t: Tile, bias: mat2x4<f32>) -> Tile {
  return Tile(t.r0 + bias, t.r1 + bias, t.r2 + bias, t.r3 + bias, t.r4 + bias, t.r5 + bias,
    t.r6 + bias, t.r7 + bias, t.r8 + bias, t.r9 + bias, t.r10 + bias, t.r11 + bias, t.r12 + bias,
    t.r13 + bias, t.r14 + bias, t.r15 + bias);
}

// C = A·B + bias over this chunk (the first reduction chunk, when there are several). The bias is
// read after the reduction loop: read before it, llvmpipe with 16-lane vectors miscompiles the
// kernel when B_T is set (tests/gemm_test.ts, the transposed B cut along C's columns).
@compute @workgroup_size(WG_X)
fn gemm_store(@builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  let t = gemm_tiles(r0, c0, lane);
  let bias = mat2x4<f32>(bias_quad(c0), bias_quad(c0 + 1u));
  store_tile(r0, c0, with_bias(t.top, bias), true);
  store_tile(r0 + 16u, c0, with_bias(t.bottom, bias), true);
}

// C += A·B over this chunk: accumulating products (dx += dy·Wᵀ, dw += xᵀ·dy) and later reduction
// chunks of a product with a bias.
@compute @workgroup_size(WG_X)
fn gemm_accumulate(@builtin(global_invocation_id) gid: vec3<u32>,
  @builtin(local_invocation_index) lane: u32) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  let t = gemm_tiles(r0, c0, lane);
  store_tile(r0, c0, t.top, false);
  store_tile(r0 + 16u, c0, t.bottom, false);
}

