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

// log(1 + x), accurate for small x (Goldberg's correction of the rounding of 1 + x).
fn log1p(x: f32) -> f32 {
  let u = 1.0 + x;
  if (u == 1.0) {
    return x;
  }
  return log(u) * x / (u - 1.0);
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

@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;

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
