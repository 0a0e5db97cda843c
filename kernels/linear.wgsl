// Linear layer with W stored [inDim, outDim] row-major:
//   forward   y = x·W + b
//   backward  dx += dy·Wᵀ,  dw += xᵀ·dy,  db += column sums of dy
// All three products are one GEMM, C (=|+=) A·B, shaped for Mesa's llvmpipe, which runs 8
// invocations as the lanes of one AVX2 vector. Measured there (bench/linear_bench.ts and the
// notes in src/ops/linear.ts): a storage-buffer or workgroup-memory load costs a loop over the
// lanes (~60 cycles per lane and vec4), a uniform-buffer load or a textureLoad of an rgba32float
// texel is one gather (~10 cycles per component for all 8 lanes), an FMA half a cycle. So:
//   * A is read through 64 KiB uniform windows (a window holds whole rows of A, or of a chunk of
//     the reduction); all lanes of a workgroup share the same rows of A.
//   * B is read from an rgba32float texture whose texel (q, k) holds B[k, 4q..4q+3]; lanes own
//     different columns.
//   * each invocation keeps a 16 x 16 tile of C in sixteen mat4x4 accumulators (a mat4x4 here is
//     just four vec4 rows of C, no matrix algebra), so each loaded vec4 feeds 16 vec4 FMAs.
//   * no vector, matrix or array is ever indexed by a variable: llvmpipe would move it to memory.
// Storage buffers are touched once per element: packing A and B (linear_pack_*) and writing C.

override WG_X: u32 = 8;

// Rows and column quads of C per invocation (the tile is 16 x 16).
const TILE_ROWS = 16u;
const TILE_QUADS = 4u;
// vec4s in one 64 KiB uniform window.
const WINDOW_QUADS = 4096u;

// ---------------------------------------------------------------------------------------------
// Packing: a logical matrix L [rows, cols], stored row-major or transposed (the source is Lᵀ
// row-major), becomes texels or window vec4s holding 4 consecutive columns of one row of L,
// zero-padded past its edges.

struct Pack {
  rows: u32,
  cols: u32,
  // 1: the source holds Lᵀ row-major ([cols, rows]); 0: L row-major.
  transposed: u32,
  // Windows only: rows of L and column quads of L per window, windows along the columns, and
  // the number of windows.
  win_rows: u32,
  win_quads: u32,
  win_cols: u32,
  windows: u32,
  // Invocations per row of the 2-D grid.
  width: u32,
}

@group(0) @binding(0) var<uniform> pack: Pack;
@group(0) @binding(1) var<storage, read> pack_src: array<f32>;
@group(0) @binding(2) var pack_texture: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<storage, read_write> pack_windows: array<vec4<f32>>;

// L[r, c], zero past the edges.
fn pack_at(r: u32, c: u32) -> f32 {
  if (r >= pack.rows || c >= pack.cols) {
    return 0.0;
  }
  return pack_src[select(r * pack.cols + c, c * pack.rows + r, pack.transposed == 1u)];
}

// L[r, 4q..4q+3]. Components are named, never indexed by a variable: on llvmpipe a variable
// index into a vector or matrix sends it through memory (many times slower, measured).
fn pack_quad(r: u32, q: u32) -> vec4<f32> {
  let c = q * 4u;
  return vec4<f32>(pack_at(r, c), pack_at(r, c + 1u), pack_at(r, c + 2u), pack_at(r, c + 3u));
}

// One texel per invocation; the grid covers the whole (padded) texture.
@compute @workgroup_size(WG_X)
fn linear_pack_texture(@builtin(global_invocation_id) gid: vec3<u32>) {
  let size = textureDimensions(pack_texture);
  if (gid.x < size.x && gid.y < size.y) {
    textureStore(pack_texture, gid.xy, pack_quad(gid.y, gid.x));
  }
}

// One window vec4 per invocation; window w = (row window, reduction window) holds
// win_rows x win_quads vec4s at w * WINDOW_QUADS.
@compute @workgroup_size(WG_X)
fn linear_pack_windows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let per_window = pack.win_rows * pack.win_quads;
  let v = gid.y * pack.width + gid.x;
  let w = v / per_window;
  if (w >= pack.windows) {
    return;
  }
  let row = (v % per_window) / pack.win_quads;
  let quad = v % pack.win_quads;
  let r = (w / pack.win_cols) * pack.win_rows + row;
  let q = (w % pack.win_cols) * pack.win_quads + quad;
  pack_windows[w * WINDOW_QUADS + row * pack.win_quads + quad] = pack_quad(r, q);
}

// ---------------------------------------------------------------------------------------------
// GEMM over one window of A: C[out_row + r, c] for r < rows, c < cols.

struct Gemm {
  // Rows of C in this window, columns of C (and the row length of the output).
  rows: u32,
  cols: u32,
  // Reduction quads in this window, quads per row of A in the window, and the quad where row 0
  // of the window starts.
  quads: u32,
  row_quads: u32,
  base_quad: u32,
  // First output row, first row of B (reduction index) of this window.
  out_row: u32,
  b_row: u32,
}

@group(0) @binding(0) var<uniform> gemm: Gemm;
@group(0) @binding(1) var<uniform> gemm_a: array<vec4<f32>, WINDOW_QUADS>;
@group(0) @binding(2) var gemm_b: texture_2d<f32>;
// Read by linear_forward only; linear_backward binds a placeholder.
@group(0) @binding(3) var<storage, read> gemm_bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> gemm_c: array<f32>;

// Rows r..r+3 of A at reduction quad kq: element i is A[r + i, 4kq..4kq+3].
fn a_block(r: u32, kq: u32) -> mat4x4<f32> {
  let s = gemm.row_quads;
  let q = gemm.base_quad + r * s + kq;
  return mat4x4<f32>(gemm_a[q], gemm_a[q + s], gemm_a[q + 2u * s], gemm_a[q + 3u * s]);
}

// Rows 4kq..4kq+3 of B (of this window) at column quad c: element j is B[4kq + j, 4c..4c+3].
fn b_block(c: u32, kq: u32) -> mat4x4<f32> {
  let k = gemm.b_row + kq * 4u;
  return mat4x4<f32>(
    textureLoad(gemm_b, vec2<u32>(c, k), 0),
    textureLoad(gemm_b, vec2<u32>(c, k + 1u), 0),
    textureLoad(gemm_b, vec2<u32>(c, k + 2u), 0),
    textureLoad(gemm_b, vec2<u32>(c, k + 3u), 0),
  );
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

// The 16 x 16 tile of C at rows r0.., column quads c0..: t<i><j> holds rows r0 + 4i.. and column
// quad c0 + j. Named accumulators, and an epilogue that names them too: indexing them with a
// variable would put the tile in memory (25x slower, measured).
struct Tile {
  t00: mat4x4<f32>, t01: mat4x4<f32>, t02: mat4x4<f32>, t03: mat4x4<f32>,
  t10: mat4x4<f32>, t11: mat4x4<f32>, t12: mat4x4<f32>, t13: mat4x4<f32>,
  t20: mat4x4<f32>, t21: mat4x4<f32>, t22: mat4x4<f32>, t23: mat4x4<f32>,
  t30: mat4x4<f32>, t31: mat4x4<f32>, t32: mat4x4<f32>, t33: mat4x4<f32>,
}

// Starts from `init` (per column quad) in every row.
fn gemm_tile(r0: u32, c0: u32, init: mat4x4<f32>) -> Tile {
  let i0 = mat4x4<f32>(init[0], init[0], init[0], init[0]);
  let i1 = mat4x4<f32>(init[1], init[1], init[1], init[1]);
  let i2 = mat4x4<f32>(init[2], init[2], init[2], init[2]);
  let i3 = mat4x4<f32>(init[3], init[3], init[3], init[3]);
  var t = Tile(i0, i1, i2, i3, i0, i1, i2, i3, i0, i1, i2, i3, i0, i1, i2, i3);
  for (var kq = 0u; kq < gemm.quads; kq++) {
    let b0 = b_block(c0, kq);
    let b1 = b_block(c0 + 1u, kq);
    let b2 = b_block(c0 + 2u, kq);
    let b3 = b_block(c0 + 3u, kq);
    var a = a_block(r0, kq);
    t.t00 = mac(t.t00, a, b0);
    t.t01 = mac(t.t01, a, b1);
    t.t02 = mac(t.t02, a, b2);
    t.t03 = mac(t.t03, a, b3);
    a = a_block(r0 + 4u, kq);
    t.t10 = mac(t.t10, a, b0);
    t.t11 = mac(t.t11, a, b1);
    t.t12 = mac(t.t12, a, b2);
    t.t13 = mac(t.t13, a, b3);
    a = a_block(r0 + 8u, kq);
    t.t20 = mac(t.t20, a, b0);
    t.t21 = mac(t.t21, a, b1);
    t.t22 = mac(t.t22, a, b2);
    t.t23 = mac(t.t23, a, b3);
    a = a_block(r0 + 12u, kq);
    t.t30 = mac(t.t30, a, b0);
    t.t31 = mac(t.t31, a, b1);
    t.t32 = mac(t.t32, a, b2);
    t.t33 = mac(t.t33, a, b3);
  }
  return t;
}

// Writes one 4 x 4 block of C at window row r, column quad q: C = block (forward: the tile
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
  let at = (gemm.out_row + r) * gemm.cols + c;
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
  store_block(r0, c0 + 2u, t.t02, forward);
  store_block(r0, c0 + 3u, t.t03, forward);
  store_block(r0 + 4u, c0, t.t10, forward);
  store_block(r0 + 4u, c0 + 1u, t.t11, forward);
  store_block(r0 + 4u, c0 + 2u, t.t12, forward);
  store_block(r0 + 4u, c0 + 3u, t.t13, forward);
  store_block(r0 + 8u, c0, t.t20, forward);
  store_block(r0 + 8u, c0 + 1u, t.t21, forward);
  store_block(r0 + 8u, c0 + 2u, t.t22, forward);
  store_block(r0 + 8u, c0 + 3u, t.t23, forward);
  store_block(r0 + 12u, c0, t.t30, forward);
  store_block(r0 + 12u, c0 + 1u, t.t31, forward);
  store_block(r0 + 12u, c0 + 2u, t.t32, forward);
  store_block(r0 + 12u, c0 + 3u, t.t33, forward);
}

fn bias_at(c: u32) -> f32 {
  return select(0.0, gemm_bias[min(c, gemm.cols - 1u)], c < gemm.cols);
}

// bias[4q..4q+3], zero past the edge.
fn bias_quad(q: u32) -> vec4<f32> {
  let c = q * 4u;
  return vec4<f32>(bias_at(c), bias_at(c + 1u), bias_at(c + 2u), bias_at(c + 3u));
}

// y = A·B + bias over this window (the first reduction window, when there are several).
@compute @workgroup_size(WG_X)
fn linear_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  let bias = mat4x4<f32>(bias_quad(c0), bias_quad(c0 + 1u), bias_quad(c0 + 2u), bias_quad(c0 + 3u));
  store_tile(r0, c0, gemm_tile(r0, c0, bias), true);
}

// C += A·B over this window: dx += dy·Wᵀ, dw += xᵀ·dy, and later reduction windows of y.
@compute @workgroup_size(WG_X)
fn linear_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * TILE_ROWS;
  let c0 = gid.x * TILE_QUADS;
  store_tile(r0, c0, gemm_tile(r0, c0, mat4x4<f32>()), false);
}

// ---------------------------------------------------------------------------------------------
// db += column sums of dy, read from dy's packed texture (texel (q, r) = dy[r, 4q..4q+3]).

struct BiasGrad {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> bias_grad: BiasGrad;
@group(0) @binding(1) var bias_dy: texture_2d<f32>;
@group(0) @binding(2) var<storage, read_write> bias_db: array<f32>;

@compute @workgroup_size(WG_X)
fn linear_bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q * 4u >= bias_grad.cols) {
    return;
  }
  var sum = vec4<f32>(0.0);
  for (var r = 0u; r < bias_grad.rows; r++) {
    sum += textureLoad(bias_dy, vec2<u32>(q, r), 0);
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
