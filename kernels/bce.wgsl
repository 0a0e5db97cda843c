// Binary cross-entropy with logits, mean over n, in the numerically stable form
//   loss = mean_i max(x, 0) - x y + log1p(exp(-|x|))        y = f32(label), labels 0 or 1
//   dx  += weight (σ(x) - y) / n
// bce_forward is one workgroup; bce_backward one thread per element.

override WG_X: u32 = 64;

struct Shape {
  n: u32,
  weight: f32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;

// log(1 + x) for x in [0, 1], accurate for small x: a Taylor polynomial below 0.1 (truncation
// under 1e-9 relative), log(1 + x) above. Tricks that rely on how 1 + x rounds are not used:
// Mesa's GLSL compiler folds them away.
fn log1p(x: f32) -> f32 {
  if (x < 0.1) {
    let p = 1.0 / 7.0 - x / 8.0;
    return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x * (0.2 - x * (1.0 / 6.0 - x * p))))));
  }
  return log(1.0 + x);
}

@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG_X)
fn bce_forward(@builtin(local_invocation_id) lid: vec3<u32>) {
  var total = 0.0;
  for (var i = lid.x; i < shape.n; i += WG_X) {
    let x = logits[i];
    total += max(x, 0.0) - x * f32(labels[i]) + log1p(exp(-abs(x)));
  }
  let sum = workgroup_sum(lid.x, total);
  if (lid.x == 0u) {
    out[0] = sum / f32(shape.n);
  }
}

@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;

// σ(x) without overflow for either sign.
fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG_X)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= shape.n) {
    return;
  }
  let g = sigmoid(logits[i]) - f32(labels[i]);
  dlogits[i] = dlogits[i] + shape.weight / f32(shape.n) * g;
}
