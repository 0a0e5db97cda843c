// GELU in the erf form of PyTorch's default nn.GELU():
//   forward   y = x Φ(x),                   Φ(x) = ½ (1 + erf(x/√2)) = ½ erfc(-x/√2)
//   backward  dx += dy (Φ(x) + x φ(x)),     φ(x) = exp(-x²/2) / √(2π)
// WGSL has no erf; with z = x/√2:
//   |z| < 1   erf(z) = z · P(z²), P a degree-6 least-squares fit (error 6e-10 in float64)
//   |z| >= 1  erfc(|z|) from the Chebyshev fit of Numerical Recipes (erfcc, relative error
//             < 1.2e-7), and Φ = 1 - ½ erfc(z) or ½ erfc(-z): the left tail keeps its relative
//             accuracy instead of suffering 1 + erf ≈ 1 - 1.
// Evaluated in float32, erf is within 1.4e-7 and Φ within 1.1e-7 of the exact values.
// Four consecutive elements per invocation, as vec4s (src/ops/shapes.ts quadView: on llvmpipe a
// vec4 storage access costs about what a scalar one does); the last quad's components past
// `length` are written back unchanged. 2-D grid of 1-D workgroups (kernels/grid.wgsl).

override WG_X: u32 = 256;

const FRAC_1_SQRT_2: f32 = 0.70710678118654752;
const FRAC_1_SQRT_2PI: f32 = 0.39894228040143268;

struct Shape {
  length: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;

// erf(z) for |z| < 1.
fn erf_small(z: vec4<f32>) -> vec4<f32> {
  let u = z * z;
  var p = vec4<f32>(7.640657713636756e-05);
  p = -0.0007940257200971246 + u * p;
  p = 0.00517948716878891 + u * p;
  p = -0.026848433539271355 + u * p;
  p = 0.11283425241708755 + u * p;
  p = -0.3761260509490967 + u * p;
  p = 1.1283791065216064 + u * p;
  return z * p;
}

// erfc(z) for z >= 1 (the fit holds for every z >= 0).
fn erfc_pos(z: vec4<f32>) -> vec4<f32> {
  let t = 1.0 / (1.0 + 0.5 * z);
  var p = vec4<f32>(0.17087277);
  p = -0.82215223 + t * p;
  p = 1.48851587 + t * p;
  p = -1.13520398 + t * p;
  p = 0.27886807 + t * p;
  p = -0.18628806 + t * p;
  p = 0.09678418 + t * p;
  p = 0.37409196 + t * p;
  p = 1.00002368 + t * p;
  p = -1.26551223 + t * p;
  return t * exp(p - z * z);
}

// Φ(x), the standard normal CDF.
fn normal_cdf(x: vec4<f32>) -> vec4<f32> {
  let z = x * FRAC_1_SQRT_2;
  let half_tail = 0.5 * erfc_pos(abs(z));
  let tail = select(1.0 - half_tail, half_tail, x < vec4<f32>(0.0));
  return select(tail, 0.5 + 0.5 * erf_small(z), abs(z) < vec4<f32>(1.0));
}

@compute @workgroup_size(WG_X)
fn gelu_forward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let keep = quad_live(q, shape.length);
  if (!keep.x) {
    return;
  }
  let v = x[q];
  let out = v * normal_cdf(v);
  if (all(keep)) {
    y[q] = out;
  } else {
    y[q] = select(y[q], out, keep);
  }
}

@compute @workgroup_size(WG_X)
fn gelu_backward(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let keep = quad_live(q, shape.length);
  if (!keep.x) {
    return;
  }
  let v = x[q];
  let grad = normal_cdf(v) + v * FRAC_1_SQRT_2PI * exp(-0.5 * v * v);
  let old = dx[q];
  dx[q] = select(old, old + dy[q] * grad, keep);
}
