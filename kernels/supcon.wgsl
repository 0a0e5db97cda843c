// Supervised contrastive loss (Khosla et al. 2020, "all" contrast mode, no base temperature) over
// n embeddings z with integer labels, from their similarity S = z zᵀ / τ (computed by the
// similarity kernel into `sim`):
//   lse_i = log Σ_{a≠i} exp(S_ia)           P(i) = {p ≠ i : label_p = label_i}
//   ℓ_i   = lse_i - mean_{p∈P(i)} S_ip       loss = mean of ℓ_i over the A anchors with P(i) ≠ ∅
//   dS_ij = weight/A (softmax_i(j) - [j∈P(i)]/|P(i)|)  for anchors i and j ≠ i, else 0
// (then dz += (dS + dSᵀ) z / τ, by the similarity backward).
// Passes: supcon_rows (one thread per anchor), supcon_forward (one workgroup: the mean and A),
// supcon_backward (one thread per element, overwrites S with dS).

override WG_X: u32 = 64;

struct Shape {
  n: u32,
  weight: f32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
// S; supcon_backward overwrites it with dS, as dsim.
@group(0) @binding(2) var<storage, read> sim: array<f32>;
// Per-anchor statistics [lse | positives | loss], written by supcon_rows as stats_out.
@group(0) @binding(3) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(4) var<storage, read> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// The anchor count A, written by supcon_forward as anchors_out.
@group(0) @binding(6) var<storage, read_write> anchors_out: array<f32>;
@group(0) @binding(7) var<storage, read> anchors: array<f32>;
@group(0) @binding(8) var<storage, read_write> dsim: array<f32>;

// ---- supcon_rows: per anchor lse_i, |P(i)|, ℓ_i into stats_out ----

@compute @workgroup_size(WG_X)
fn supcon_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = shape.n;
  let i = gid.x;
  if (i >= n) {
    return;
  }
  let label = labels[i];
  // Online max-subtracted log-sum-exp; the start value is finite so no infinities arise.
  var m = -3.0e38;
  var sum = 0.0;
  var positives = 0.0;
  var positive_sum = 0.0;
  for (var a = 0u; a < n; a++) {
    if (a == i) {
      continue;
    }
    let x = sim[i * n + a];
    let m_next = max(m, x);
    sum = sum * exp(m - m_next) + exp(x - m_next);
    m = m_next;
    if (labels[a] == label) {
      positives += 1.0;
      positive_sum += x;
    }
  }
  // An anchor without positives (or the only embedding) gets lse 0 and loss 0; both unused.
  let lse = select(0.0, m + log(sum), sum > 0.0);
  stats_out[i] = lse;
  stats_out[n + i] = positives;
  stats_out[2u * n + i] = select(0.0, lse - positive_sum / positives, positives > 0.0);
}

// ---- supcon_forward: out[0] = mean ℓ over anchors, anchors_out[0] = A ----

@compute @workgroup_size(WG_X)
fn supcon_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
  let n = shape.n;
  var total = vec2<f32>(); // (Σ ℓ_i, A)
  for (var i = lid.x; i < n; i += WG_X) {
    if (stats[n + i] > 0.0) {
      total += vec2<f32>(stats[2u * n + i], 1.0);
    }
  }
  let losses = workgroup_sum(lid.x, total.x);
  let count = workgroup_sum(lid.x, total.y);
  if (lid.x == 0u) {
    out[0] = select(0.0, losses / count, count > 0.0);
    anchors_out[0] = count;
  }
}

// ---- supcon_backward: dsim[i, j] = dS_ij, S on entry (one thread per element (i, j) = (gid.y, gid.x)) ----

@compute @workgroup_size(WG_X)
fn supcon_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = shape.n;
  let i = gid.y;
  let j = gid.x;
  if (j >= n) {
    return;
  }
  let p = i * n + j;
  let positives = stats[n + i];
  var g = 0.0;
  if (positives > 0.0 && j != i) {
    let softmax = exp(dsim[p] - stats[i]);
    let positive = select(0.0, 1.0 / positives, labels[j] == labels[i]);
    g = shape.weight / anchors[0] * (softmax - positive);
  }
  dsim[p] = g;
}
