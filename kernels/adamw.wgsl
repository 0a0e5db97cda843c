// One AdamW step over a flat parameter buffer, with global gradient-norm clipping folded in,
// in the operation order of PyTorch 1.13's clip_grad_norm_ + AdamW (non-fused, foreach=False):
//   clip = max_norm > 0 ? min(1, max_norm / (grad_norm[0] + 1e-6)) : 1
//   g = grads[i] · clip                       (grads themselves are left unmodified)
//   p = p · decay                             for i < decay_end only; decay = 1 - lr · wd
//   m = β1 m + (1 - β1) g
//   v = β2 v + (1 - β2) g²
//   p = p - step_size · m / (sqrt(v) / bc2_sqrt + eps)
// step_size = lr / (1 - β1^t) and bc2_sqrt = sqrt(1 - β2^t) come from the host (float64).
// Four consecutive parameters per invocation, as vec4s (src/ops/shapes.ts quadView: on llvmpipe a
// vec4 storage access costs about what a scalar one does); the last quad's components past
// `length` are written back unchanged. 2-D grid of 1-D workgroups (kernels/grid.wgsl).

override WG_X: u32 = 256;

struct Options {
  length: u32,
  decay_end: u32,
  decay: f32,
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  eps: f32,
  step_size: f32,
  bc2_sqrt: f32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> opts: Options;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> grad_norm: array<f32>;

@compute @workgroup_size(WG_X)
fn adamw_update(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let q = flat_index(wid, nwg, lid);
  let index = quad_index(q);
  if (index.x >= opts.length) {
    return;
  }
  var clip = 1.0;
  if (opts.max_norm > 0.0) {
    clip = min(1.0, opts.max_norm / (grad_norm[0] + 1e-6));
  }
  let g = grads[q] * clip;
  let p_old = params[q];
  let w = p_old * select(vec4<f32>(1.0), vec4<f32>(opts.decay), index < vec4<u32>(opts.decay_end));
  let m_old = m[q];
  let v_old = v[q];
  let m_new = opts.beta1 * m_old + opts.one_minus_beta1 * g;
  let v_new = opts.beta2 * v_old + opts.one_minus_beta2 * g * g;
  let p_new = w - opts.step_size * (m_new / (sqrt(v_new) / opts.bc2_sqrt + opts.eps));
  let live = index < vec4<u32>(opts.length);
  m[q] = select(m_old, m_new, live);
  v[q] = select(v_old, v_new, live);
  params[q] = select(p_old, p_new, live);
}
