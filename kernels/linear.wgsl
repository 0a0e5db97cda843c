// The linear layer's own pass, with W stored [inDim, outDim] row-major:
//   forward   y = x·W + b
//   backward  dx += dy·Wᵀ,  dw += xᵀ·dy,  db += column sums of dy
// The products are GEMMs (kernels/gemm.wgsl); this file sums dy's columns for db, reading the
// texture dy was packed into for them.
requires readonly_and_readwrite_storage_textures;

override WG_X: u32 = 8;

// db += column sums of dy over one chunk of its rows, read from that chunk's packed texture
// (texel (q, r) = dy[row0 + r, 4q..4q+3]).

struct BiasGrad {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> shape: BiasGrad;
@group(0) @binding(1) var dy: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var<storage, read_write> db: array<f32>;

@compute @workgroup_size(WG_X)
fn linear_bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let q = gid.x;
  if (q * 4u >= shape.cols) {
    return;
  }
  var sum = vec4<f32>(0.0);
  for (var r = 0u; r < shape.rows; r++) {
    sum += textureLoad(dy, vec2<u32>(q, r));
  }
  add_bias_grad(q * 4u, sum.x);
  add_bias_grad(q * 4u + 1u, sum.y);
  add_bias_grad(q * 4u + 2u, sum.z);
  add_bias_grad(q * 4u + 3u, sum.w);
}

fn add_bias_grad(c: u32, value: f32) {
  if (c < shape.cols) {
    db[c] = db[c] + value;
  }
}
