import assert from "node:assert/strict";
import { type Command, GpuError, isDispatch } from "../src/gpu/context.ts";
import { BufferPool } from "../src/gpu/buffer_pool.ts";
import {
  atRecord,
  type Dispatch,
  KernelContractError,
  type KernelSpec,
  packUniforms,
} from "../src/gpu/kernel.ts";
import { PipelineBuildError } from "../src/gpu/pipeline_cache.ts";
import { gatherRows } from "../src/ops/gather.ts";
import { L2NORM_FORWARD, l2normForward } from "../src/ops/l2norm.ts";
import { gpuTest } from "./util/check.ts";

/** The one dispatch of an op's commands. */
function only(commands: Command[]): Dispatch {
  assert.equal(commands.length, 1);
  assert.ok(isDispatch(commands[0]));
  return commands[0];
}

Deno.test("packUniforms: 4-byte fields by name in declared order, padded to 16 bytes, checked", () => {
  const spec: KernelSpec = {
    name: "demo",
    file: "demo.wgsl",
    entryPoint: "demo",
    workgroupSize: [64],
    uniforms: { a: "u32", b: "i32", c: "f32", d: "u32", e: "f32" },
    bindings: {},
  };
  const bytes = packUniforms(spec, { e: 2, d: 1, c: 0.5, b: -2, a: 7 });
  assert.equal(bytes.byteLength, 32);
  const v = new DataView(bytes);
  assert.deepEqual(
    [v.getUint32(0, true), v.getInt32(4, true), v.getFloat32(8, true), v.getUint32(12, true)],
    [7, -2, 0.5, 1],
  );
  const values = { a: 7, b: -2, c: 0.5, d: 1, e: 2 };
  assert.throws(
    () => packUniforms(spec, { ...values, a: -1 }),
    /kernel demo: uniform "a" \(u32\) is -1, outside 0..2\^32-1/,
  );
  assert.throws(() => packUniforms(spec, { ...values, b: 1.5 }), /uniform "b" \(i32\) is 1.5/);
  const { e: _, ...missing } = values;
  assert.throws(() => packUniforms(spec, missing), /kernel demo: uniform "e" \(f32\) has no value/);
  assert.throws(
    () => packUniforms(spec, { ...values, f: 1 }),
    (e: unknown) =>
      e instanceof KernelContractError && /uniform "f" is not declared/.test(e.message),
  );
  assert.equal(BufferPool.sizeClass(1), 256);
  assert.equal(BufferPool.sizeClass(1000), 1024);
});

gpuTest("pipeline cache: one pipeline per kernel and constants, whatever the shapes", (gpu) => {
  const a = gpu.pipelines.get(L2NORM_FORWARD);
  assert.equal(gpu.pipelines.get({ ...L2NORM_FORWARD }), a, "same spec, same pipeline");
  const wide: KernelSpec = { ...L2NORM_FORWARD, workgroupSize: [128] };
  assert.notEqual(gpu.pipelines.get(wide), a, "another workgroup size compiles anew");
  const x = gpu.storage(64), y = gpu.storage(64), n = gpu.storage(8);
  const small = only(l2normForward(gpu, x, y, n, { rows: 2, dim: 4, eps: 1e-12 }));
  const large = only(l2normForward(gpu, x, y, n, { rows: 8, dim: 8, eps: 1e-12 }));
  assert.equal(small.pipeline, large.pipeline);
});

gpuTest("buffer pool: released buffers are reused, uniforms come from the pool", (gpu) => {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const a = gpu.pool.acquire(300, usage);
  gpu.pool.release(a);
  assert.equal(gpu.pool.acquire(500, usage), a);
  const x = gpu.storage(8), y = gpu.storage(8), n = gpu.storage(2);
  const d = only(l2normForward(gpu, x, y, n, { rows: 2, dim: 4, eps: 1e-12 }));
  gpu.recycle([d]);
  const again = only(l2normForward(gpu, x, y, n, { rows: 2, dim: 4, eps: 1e-12 }));
  assert.equal(again.uniform, d.uniform, "the recycled uniform buffer serves the next dispatch");
});

gpuTest("WebGPU validation errors surface as GpuError naming what failed", async (gpu) => {
  const x = gpu.storage(8), n = gpu.storage(2);
  // Binding one buffer as read-only input and writable output of one dispatch is invalid.
  const d = l2normForward(gpu, x, x, n, { rows: 2, dim: 4, eps: 1e-12 });
  await assert.rejects(() => gpu.run(d), (e: unknown) => {
    assert.ok(e instanceof GpuError, `expected GpuError, got ${e}`);
    assert.match((e as Error).message, /^run: /);
    return true;
  });
  await gpu.run([]); // the context stays usable afterwards
});

gpuTest("a kernel that fails to build names itself, the backend and the adapter", async (gpu) => {
  const broken: KernelSpec = {
    name: "broken_forward",
    file: "../tests/fixtures/kernels/broken.wgsl",
    entryPoint: "broken_forward",
    workgroupSize: [64],
    bindings: { out: "read_write" },
  };
  const d = gpu.prepare(broken, { bindings: { out: gpu.storage(4) } }, 1);
  await assert.rejects(() => gpu.run([d]), (e: unknown) => {
    assert.ok(e instanceof PipelineBuildError, `expected PipelineBuildError, got ${e}`);
    const message = (e as Error).message;
    assert.ok(message.startsWith("kernel broken_forward ("), message);
    assert.ok(message.includes(`backend ${gpu.info.backend}, adapter ${gpu.info.name}`), message);
    assert.match(message, /u32|f32|abstract|type/i, `the compiler's reason is kept: ${message}`);
    return true;
  });
  await gpu.run([]); // the error is reported once; the context stays usable
});

gpuTest("recorded dispatches: one submit runs each record with its own uniforms", async (gpu) => {
  const src = gpu.storage(Float32Array.of(10, 20, 30, 40)),
    index = gpu.storage(
      Uint32Array.of(0, 1, 2, 3),
    );
  const dst = gpu.storage(1), out = gpu.storage(2);
  const shape = { rows: 1, dim: 1, offset: 0 };
  const gather = gpu.record(gatherRows(gpu, src, index, dst, shape)[0], 2);
  gather.write(0, { offset: 2 });
  gather.write(1, { offset: 3 });
  await gpu.run([
    gather.at(0),
    { copy: { src: dst, dst: { ...out, length: 1 } } },
    gather.at(1),
    { copy: { src: dst, dst: { ...out, offset: 4, length: 1 } } },
  ]);
  assert.deepEqual(Array.from(await gpu.read(out)), [30, 40]);
  assert.deepEqual(atRecord([gather.at(0), { clear: out }], 1)[0], gather.at(1));
  assert.throws(() => gather.at(2), /record 2 outside 0\.\.1/);
  assert.throws(() => gather.write(0, { offsett: 1 }), /uniform "offsett" is not declared/);
  assert.throws(() => gpu.record({ clear: out }, 2), /not a dispatch/);
});

gpuTest("collect/runOnce free what one-off work allocated", async (gpu) => {
  const { value, resources } = gpu.collect(() => [gpu.storage(4), gpu.storage(4)]);
  assert.equal(resources.length, 2);
  assert.deepEqual(resources, value.map((v) => v.buffer));
  gpu.destroy(resources);
  const x = gpu.storage(Float32Array.of(3, 4)), y = gpu.storage(2), n = gpu.storage(1);
  await gpu.runOnce(() => l2normForward(gpu, x, y, n, { rows: 1, dim: 2, eps: 1e-12 }));
  assert.deepEqual(Array.from(await gpu.read(y)).map((v) => +v.toFixed(6)), [0.6, 0.8]);
});

gpuTest(
  "an upload command copies buffer rows into a texture's corner, leaving the rest zero",
  async (gpu) => {
    // 3 rows of 64 floats (256-byte rows) from byte 256 of the buffer into an 8 x 4 texture.
    const data = Float32Array.from({ length: 4 * 64 }, (_, i) => i + 1);
    const src = gpu.storage(data);
    const texture = gpu.texture({
      size: [8, 4],
      format: "rgba32float",
      usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC,
    });
    const out = gpu.device.createBuffer({
      size: 4 * 256,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    gpu.submit([{
      upload: { buffer: src.buffer, offset: 256, bytesPerRow: 256, texture, width: 4, height: 3 },
    }]);
    const encoder = gpu.device.createCommandEncoder();
    encoder.copyTextureToBuffer({ texture }, { buffer: out, bytesPerRow: 256 }, [8, 4]);
    gpu.device.queue.submit([encoder.finish()]);
    await out.mapAsync(GPUMapMode.READ);
    const got = new Float32Array(out.getMappedRange().slice(0));
    out.unmap();
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 32; c++) {
        // Texel (q, r) holds source row r + 1, floats 4q..4q+3, for q < 4 and r < 3.
        const want = r < 3 && c < 16 ? data[(r + 1) * 64 + c] : 0;
        assert.equal(got[r * 64 + c], want, `row ${r}, float ${c}`);
      }
    }
  },
);
