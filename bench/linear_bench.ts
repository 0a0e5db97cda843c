import { tryGetGpu } from "../src/gpu/context.ts";
import { linearBackward, linearForward } from "../src/ops/linear.ts";
import * as twin from "../src/reference/linear.ts";
import { Rng } from "../src/util/rng.ts";
import { startBlasPeer } from "./util/peer.ts";
import { benchThroughput } from "./util/throughput.ts";

const gpu = await tryGetGpu();
// Both sides run REPS products per timed call (one submit, one peer request), so that each
// side's fixed cost per call (GPU: ~11 ms to submit and wait, whatever the work; peer: a pipe
// round trip) is spread over the same work.
const rows = 4096, inDim = 512, outDim = 512, REPS = 20, PAIRED_ROUNDS = 5;
const SETTLE_MS = 300;
const shape = { rows, inDim, outDim };
const flops = 2 * rows * inDim * outDim; // one GEMM
const group = `linear ${rows}x${inDim}x${outDim}`;
const rng = new Rng(0);
const randn = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
const x = randn(rows * inDim), w = randn(inDim * outDim), b = randn(outDim);
const dy = randn(rows * outDim);

// Debian's python3 with numpy (the `python3` on PATH may be a pyenv build without it).
const peer = await startBlasPeer("/usr/bin/python3", [
  new URL("./peers/gemm_numpy.py", import.meta.url).pathname,
  ...["--rows", `${rows}`, "--in-dim", `${inDim}`, "--out-dim", `${outDim}`],
]);
if (peer) console.log(`numpy peer: ${peer.banner}`);

// Medians of the forward and of numpy, for the ratio printed under the table.
const times: Record<"forward" | "numpy", number[]> = { forward: [], numpy: [] };
function median(a: number[]): number {
  return [...a].sort((p, q) => p - q)[a.length >> 1];
}
const timed = (key: keyof typeof times, per: number, fn: () => Promise<void>) => async () => {
  const t0 = performance.now();
  await fn();
  times[key].push((performance.now() - t0) / per);
};

benchThroughput({
  name: "CPU twin (float64) forward",
  group,
  baseline: true,
  work: { flops },
  n: 2,
  warmup: 1,
  fn: () => twin.linearForward(x, w, b, new Float64Array(rows * outDim), shape),
});

const ignore = gpu ? false : "no WebGPU adapter";
if (gpu) {
  const f32 = (a: Float64Array) => gpu.storage(Float32Array.from(a));
  const gx = f32(x), gw = f32(w), gb = f32(b), gy = gpu.storage(rows * outDim), gdy = f32(dy);
  const gdx = gpu.storage(rows * inDim), gdw = gpu.storage(inDim * outDim);
  const gdb = gpu.storage(outDim);
  const forward = linearForward(gpu, gx, gw, gb, gy, shape);
  const backward = linearBackward(gpu, gx, gw, gdy, gdx, gdw, gdb, shape);
  await gpu.run([...forward, ...backward]); // compiles the pipelines
  const repeat = (d: typeof forward) => Array.from({ length: REPS }, () => d).flat();
  // Paired rounds (GPU forward, then numpy, alternating) so that both see the same load on a
  // shared machine; the table's benches run one after the other. Each timed part starts after a
  // pause: OpenBLAS's idle threads spin for a while after a call (measured: the GPU forward ran
  // 5-30% slower right after numpy than 300 ms later).
  if (peer) {
    const paired = { forward: [] as number[], numpy: [] as number[] };
    const settle = () => new Promise((done) => setTimeout(done, SETTLE_MS));
    for (let round = 0; round < PAIRED_ROUNDS; round++) {
      await settle();
      let t0 = performance.now();
      await gpu.run(repeat(forward));
      paired.forward.push((performance.now() - t0) / REPS);
      await settle();
      t0 = performance.now();
      await peer.request(String(REPS));
      paired.numpy.push((performance.now() - t0) / REPS);
    }
    const fwd = flops / median(paired.forward) / 1e6, np = flops / median(paired.numpy) / 1e6;
    console.log(
      `paired (${PAIRED_ROUNDS} rounds, medians): GPU forward ${fwd.toFixed(2)} GFLOP/s, numpy ` +
        `${np.toFixed(2)} GFLOP/s: ${(100 * fwd / np).toFixed(1)}% of numpy`,
    );
  }
  benchThroughput({
    name: `GPU forward (${REPS} per submit)`,
    group,
    work: { flops: flops * REPS },
    n: 5,
    warmup: 1,
    fn: timed("forward", REPS, () => gpu.run(repeat(forward))),
  });
  benchThroughput({
    name: `GPU backward dx,dw,db (${REPS} per submit)`,
    group,
    work: { flops: 2 * flops * REPS },
    n: 5,
    warmup: 1,
    fn: () => gpu.run(repeat(backward)),
  });
} else {
  benchThroughput({ name: "GPU forward", group, work: {}, fn: () => {}, ignore });
  benchThroughput({ name: "GPU backward", group, work: {}, fn: () => {}, ignore });
}

benchThroughput({
  name: `numpy x@w+b peer (${REPS} per call)`,
  group,
  work: { flops: flops * REPS },
  n: 10,
  warmup: 2,
  ignore: peer ? false : "no /usr/bin/python3 with numpy",
  fn: timed("numpy", REPS, async () => await peer?.request(String(REPS))),
});

globalThis.addEventListener("unload", () => {
  if (times.forward.length && times.numpy.length) {
    const gf = (ms: number) => flops / ms / 1e6;
    const fwd = gf(median(times.forward)), np = gf(median(times.numpy));
    console.log(
      `  GPU forward ${fwd.toFixed(2)} GFLOP/s = ${(100 * fwd / np).toFixed(1)}% of numpy's ` +
        `${np.toFixed(2)} GFLOP/s (${peer?.banner})`,
    );
  }
});
