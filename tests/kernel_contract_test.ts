import assert from "node:assert/strict";
import type { GpuInfo } from "../src/gpu/context.ts";
import { KernelContractError, type KernelSpec } from "../src/gpu/kernel.ts";
import { kernelSource, resolveKernel } from "../src/gpu/pipeline_cache.ts";
import { checkContract, parseWgsl } from "../src/gpu/wgsl_contract.ts";
import { GELU_FORWARD } from "../src/ops/gelu.ts";
import { gpuTest } from "./util/check.ts";

// Every KernelSpec that a module of src/ops exports.
const OPS = new URL("../src/ops/", import.meta.url);
const specs: KernelSpec[] = [];
for (const entry of [...Deno.readDirSync(OPS)].sort((a, b) => a.name.localeCompare(b.name))) {
  if (!entry.name.endsWith(".ts")) continue;
  const module: Record<string, unknown> = await import(new URL(entry.name, OPS).href);
  specs.push(
    ...Object.values(module).filter((v): v is KernelSpec =>
      typeof v === "object" && v !== null && "entryPoint" in v && "bindings" in v
    ),
  );
}

const device = (subgroupSize: number): GpuInfo => ({
  name: "test",
  backend: "test",
  isFallback: true,
  softwareGl: false,
  subgroupSize,
});

Deno.test("every kernel's contract matches its WGSL, with and without subgroups", () => {
  assert.ok(specs.length >= 25, `found ${specs.length} kernel specs`);
  for (const subgroupSize of [0, 8, 16]) {
    for (const spec of specs) {
      const { files, constants } = resolveKernel(spec, device(subgroupSize));
      const slots = checkContract(spec, parseWgsl(kernelSource(files)), files, constants);
      assert.deepEqual(
        [...slots.bindings.keys()].sort(),
        Object.keys(spec.bindings).sort(),
        `${spec.name}: every declared binding has a slot`,
      );
      assert.equal(slots.uniform === null, spec.uniforms === undefined, spec.name);
    }
  }
});

const WGSL = `
override WG_X: u32 = 64;
struct Shape { n: u32, weight: f32 }
@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> unused: array<f32>;
/* a comment that names unused[0] */
fn scaled(i: u32) -> f32 {
  return x[i] * shape.weight; // y is not read here
}
@compute @workgroup_size(WG_X)
fn demo_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < shape.n) {
    y[gid.x] = scaled(gid.x);
  }
}
`;
const SPEC: KernelSpec = {
  name: "demo_forward",
  file: "demo.wgsl",
  entryPoint: "demo_forward",
  workgroupSize: [64],
  uniforms: { n: "u32", weight: "f32" },
  bindings: { x: "read", y: "read_write" },
};

/** Asserts that checking `spec` against `wgsl` fails with a message matching `pattern`. */
function rejects(spec: KernelSpec, pattern: RegExp, wgsl = WGSL): void {
  assert.throws(
    () => checkContract(spec, parseWgsl(wgsl), ["demo.wgsl"], { WG_X: 64 }),
    (e: unknown) => {
      assert.ok(e instanceof KernelContractError, `expected KernelContractError, got ${e}`);
      assert.match(
        e.message,
        /^kernel demo_forward \(kernels\/demo.wgsl, entry point \w+\): /,
      );
      assert.match(e.message, pattern);
      return true;
    },
  );
}

Deno.test("a contract is checked against the WGSL, naming the kernel and the field", () => {
  const slots = checkContract(SPEC, parseWgsl(WGSL), ["demo.wgsl"], { WG_X: 64 });
  assert.equal(slots.uniform, 0);
  assert.deepEqual([...slots.bindings], [["x", 1], ["y", 2]], "x reached through scaled()");
  rejects(
    { ...SPEC, uniforms: { weight: "f32", n: "u32" } },
    /uniform field 0 is "n: u32" in struct Shape, the spec declares "weight: f32"/,
  );
  rejects(
    { ...SPEC, uniforms: { n: "u32", weight: "u32" } },
    /uniform field 1 is "weight: f32" in struct Shape, the spec declares "weight: u32"/,
  );
  rejects(
    { ...SPEC, uniforms: { n: "u32" } },
    /uniform field 1 is "weight: f32" in struct Shape, the spec declares nothing/,
  );
  rejects({ ...SPEC, uniforms: undefined }, /reads the uniform struct shape: Shape; declare/);
  rejects(
    { ...SPEC, bindings: { x: "read" } },
    /uses y \(@binding\(2\)\), which the spec does not/,
  );
  rejects(
    { ...SPEC, bindings: { x: "read_write", y: "read_write" } },
    /binding x is declared read_write but the WGSL has var<storage, read> x: array<f32>/,
  );
  rejects(
    { ...SPEC, bindings: { ...SPEC.bindings, unused: "read_write" } },
    /declares binding unused, which the entry point does not use/,
  );
  rejects(
    { ...SPEC, bindings: { ...SPEC.bindings, z: "read" } },
    /declares binding z, which the WGSL does not have/,
  );
  rejects({ ...SPEC, entryPoint: "scaled" }, /no @compute function of that name/);
  rejects(
    SPEC,
    /x and x2 share @binding\(1\); give each its own/,
    WGSL.replace(
      "fn scaled",
      "@group(0) @binding(1) var<storage, read> x2: array<f32>;\nfn scaled",
    ),
  );
  assert.throws(
    () => checkContract(SPEC, parseWgsl(WGSL), ["demo.wgsl"], { WG_X: 64, CHUNK: 4 }),
    /constant CHUNK is not an override in the WGSL/,
  );
});

gpuTest("prepare names the kernel and the field of a record that breaks the contract", (gpu) => {
  const x = gpu.storage(4), y = gpu.storage(4);
  const prepare = (inputs: Parameters<typeof gpu.prepare>[1]) =>
    gpu.prepare(GELU_FORWARD, inputs, 1);
  assert.throws(
    () => prepare({ uniforms: { length: 4 }, bindings: { x, y, dy: y } }),
    /kernel gelu_forward: binding dy is not declared \(x, y\)/,
  );
  assert.throws(
    () => prepare({ uniforms: { length: 4 }, bindings: { x } }),
    /kernel gelu_forward: binding y \(read_write\) has no resource/,
  );
  assert.throws(
    () => prepare({ uniforms: { size: 4 }, bindings: { x, y } }),
    /kernel gelu_forward: uniform "size" is not declared \(fields: length\)/,
  );
  assert.throws(() => prepare({ bindings: { x, y } }), /kernel gelu_forward: uniforms required/);
  const texture = gpu.texture({
    size: [16, 64],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING,
  });
  assert.throws(
    () => prepare({ uniforms: { length: 4 }, bindings: { x, y: texture.createView() } }),
    /kernel gelu_forward: binding y \(read_write\) got a texture/,
  );
  texture.destroy();
});
