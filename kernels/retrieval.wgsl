// Retrieval evaluation over a score matrix (rows = queries, cols = candidates, row-major).
//
// Order: finite scores, highest first; then every non-finite score (NaN, +inf, -inf: a broken
// similarity, never a match), all equal. Equal scores go by lower column first. Scores are
// compared through an integer key (order_key), so no NaN or infinity is ever compared as a float
// and no denormal is flushed.
//
// retrieval_rank: for a finite target score, rank[i] = #{ j : finite scores[i, j] >
//   scores[i, target[i]] } (0 = best; finite ties count in the query's favour); a non-finite
//   target score ranks last, cols - 1; 2^32 - 1 for a target outside [0, cols). One workgroup per
//   row: the invocations stride over the row and add their counts into a workgroup atomic.
//
// top_k_pass: the first k of each row in that order, non-finite scores included once the finite
//   ones run out. A pass splits each row's input candidates among `chunks` invocations
//   (invocation c takes candidates c, c + chunks, …; the host bounds their count); each keeps
//   the k best of its share in a sorted list (insertion) and writes that list as one of the
//   pass's outputs. The first pass reads the raw scores (candidate column = position; in_index is
//   not read); later passes merge the previous pass's lists (in_index holds their columns) until
//   one list of k remains per row.
//
// Mesa's llvmpipe stops an invocation's loops silently after 65,535 iterations in total, all
// loops together: the host keeps every invocation below that (src/ops/retrieval.ts).
// Both kernels run on a 2-D grid of workgroups (kernels/grid.wgsl).

override WG_X: u32 = 64;

// Capacity of each invocation's list (k <= K_MAX).
const K_MAX: u32 = 64u;

struct RankShape {
  rows: u32,
  cols: u32,
}

// Rows, the list length k, candidates per row in the input, output lists per row (= invocations
// per row), and 1 when the input is the raw score matrix.
struct TopKShape {
  rows: u32,
  k: u32,
  in_len: u32,
  chunks: u32,
  first: u32,
}

// A u32 in the ranking order: finite scores map monotonically onto 1.. (sign-magnitude bits to
// an unsigned order, -0 as +0); NaN and ±inf (exponent bits all ones) map to 0.
fn order_key(s: f32) -> u32 {
  let bits = bitcast<u32>(s);
  let m = select(bits, 0u, bits == 0x80000000u);
  let key = select(m | 0x80000000u, ~m, (m & 0x80000000u) != 0u);
  return select(key, 0u, (bits & 0x7f800000u) == 0x7f800000u);
}

@group(0) @binding(0) var<uniform> rank_shape: RankShape;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<u32>;
@group(0) @binding(3) var<storage, read_write> rank: array<u32>;

var<workgroup> rank_total: atomic<u32>;

@compute @workgroup_size(WG_X)
fn retrieval_rank(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let row = flat_group(wid, nwg);
  if (row >= rank_shape.rows) {
    return;
  }
  let want = targets[row];
  let base = row * rank_shape.cols;
  let own = order_key(scores[base + min(want, rank_shape.cols - 1u)]);
  var count = 0u;
  if (own != 0u) {
    for (var j = lid.x; j < rank_shape.cols; j = j + WG_X) {
      count = count + select(0u, 1u, order_key(scores[base + j]) > own);
    }
  } else if (lid.x == 0u) {
    count = rank_shape.cols - 1u;
  }
  if (lid.x == 0u) {
    atomicStore(&rank_total, 0u);
  }
  workgroupBarrier();
  atomicAdd(&rank_total, count);
  workgroupBarrier();
  if (lid.x == 0u) {
    rank[row] = select(atomicLoad(&rank_total), 0xffffffffu, want >= rank_shape.cols);
  }
}

@group(0) @binding(4) var<uniform> top_shape: TopKShape;
@group(0) @binding(5) var<storage, read> in_score: array<f32>;
@group(0) @binding(6) var<storage, read> in_index: array<u32>;
@group(0) @binding(7) var<storage, read_write> out_score: array<f32>;
@group(0) @binding(8) var<storage, read_write> out_index: array<u32>;

// True when candidate (key s, column j) ranks before (key t, column i).
fn before(s: u32, j: u32, t: u32, i: u32) -> bool {
  return s > t || (s == t && j < i);
}

@compute @workgroup_size(WG_X)
fn top_k_pass(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let id = flat_index(wid, nwg, lid);
  if (id >= top_shape.rows * top_shape.chunks) {
    return;
  }
  let row = id / top_shape.chunks;
  let chunk = id - row * top_shape.chunks;
  let k = top_shape.k;
  // The list starts full of placeholders (-inf, column 2^32 - 1) that every real candidate beats
  // (non-finite ones by their lower column), so a share of fewer than k candidates still writes
  // k well-ordered entries; k <= cols keeps them out of the final list.
  var best: array<f32, K_MAX>;
  var index: array<u32, K_MAX>;
  // -inf made at run time: WGSL makes a non-finite constant expression a shader-creation error
  // (browsers' compilers enforce it), and `k & 0u` is no constant.
  let minus_inf = bitcast<f32>(0xff800000u | (k & 0u));
  for (var r = 0u; r < k; r = r + 1u) {
    best[r] = minus_inf;
    index[r] = 0xffffffffu;
  }
  // The last entry's key and column, kept in registers: most candidates only meet this test.
  var last_key = 0u;
  var last_j = 0xffffffffu;
  for (var c = chunk; c < top_shape.in_len; c = c + top_shape.chunks) {
    let s = in_score[row * top_shape.in_len + c];
    let key = order_key(s);
    var j = c;
    if (top_shape.first == 0u) {
      j = in_index[row * top_shape.in_len + c];
    }
    if (!before(key, j, last_key, last_j)) {
      continue;
    }
    // Insert in order; the last entry falls off.
    var p = k - 1u;
    while (p > 0u && before(key, j, order_key(best[p - 1u]), index[p - 1u])) {
      best[p] = best[p - 1u];
      index[p] = index[p - 1u];
      p = p - 1u;
    }
    best[p] = s;
    index[p] = j;
    last_key = order_key(best[k - 1u]);
    last_j = index[k - 1u];
  }
  let out_base = (row * top_shape.chunks + chunk) * k;
  for (var r = 0u; r < k; r = r + 1u) {
    out_score[out_base + r] = best[r];
    out_index[out_base + r] = index[r];
  }
}
