// CLIP loss over an n x n logit matrix L whose matching pairs are on the diagonal:
//   loss = ½ (mean_i CE(row i, i) + mean_j CE(column j, j))
//        = Σ_i (lse(row i) + lse(column i) - 2 L_ii) / (2n)
//   dL  += weight (softmax_rows(L) - I + softmax_cols(L) - I) / (2n)
// Passes: clip_loss_lse (one thread per row and per column: max-subtracted log-sum-exp, one
// sweep), then clip_loss_forward (one workgroup sums) or clip_loss_backward (one thread per
// element).

override WG_X: u32 = 64;

struct Shape {
  n: u32,
  weight: f32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> logits: array<f32>;

// lse[0..n) for the rows, lse[n..2n) for the columns: clip_loss_lse writes it as lse_out, the
// other passes read it.
@group(0) @binding(2) var<storage, read_write> lse_out: array<f32>;

@compute @workgroup_size(WG_X)
fn clip_loss_lse(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = shape.n;
  let p = gid.x;
  if (p >= 2u * n) {
    return;
  }
  // Row p: elements p*n + k; column p-n: elements k*n + (p-n).
  var base = p * n;
  var step = 1u;
  if (p >= n) {
    base = p - n;
    step = n;
  }
  var m = logits[base];
  var sum = 1.0;
  for (var k = 1u; k < n; k++) {
    let x = logits[base + k * step];
    let m_next = max(m, x);
    sum = sum * exp(m - m_next) + exp(x - m_next);
    m = m_next;
  }
  lse_out[p] = m + log(sum);
}

@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X)
fn clip_loss_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
  let n = shape.n;
  var total = 0.0;
  for (var i = lid.x; i < n; i += WG_X) {
    total += lse[i] + lse[n + i] - 2.0 * logits[i * n + i];
  }
  let sum = workgroup_sum(lid.x, total);
  if (lid.x == 0u) {
    out[0] = sum / f32(2u * n);
  }
}

@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;

// One thread per element (i, j) = (gid.y, gid.x).
@compute @workgroup_size(WG_X)
fn clip_loss_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = shape.n;
  let i = gid.y;
  let j = gid.x;
  if (j >= n) {
    return;
  }
  let p = i * n + j;
  let x = logits[p];
  var g = exp(x - lse[i]) + exp(x - lse[n + j]);
  if (i == j) {
    g -= 2.0;
  }
  dlogits[p] = dlogits[p] + shape.weight / f32(2u * n) * g;
}
