/**
 * One full training step (B=256, 512→512→256 heads, dropout 0.1, CLIP + SupCon + BCE, grad
 * clipping, AdamW) on the GPU, against the same step in PyTorch on this machine's CPU
 * (bench/peers/train_step_torch.py), in one group so the ratio is read off one run.
 */
import { type Command, type GpuContext, tryGetGpu } from "../src/gpu/context.ts";
import { DEFAULT_LOSS } from "../src/model/config.ts";
import { initialParameters } from "../src/model/init.ts";
import { DEFAULT_OPTIMIZER, TrainGraph } from "../src/model/train_graph.ts";
import { Rng } from "../src/util/rng.ts";
import { startBlasPeer } from "./util/peer.ts";
import { benchThroughput } from "./util/throughput.ts";

const B = 256, N = 4096, STEPS = 4;
const head = { inDim: 512, hidden: 512, outDim: 256, layers: 2, dropout: 0.1 };
const group = "train step B=256 512→512→256";
// Multiply-adds of the step: forward linears (2 heads × 2 layers + classifier), backward 2× that
// (dW and dX, no dX for the first layer), similarity B²·D fwd + 2× bwd, SupCon (2B)²·D fwd + bwd.
const linear = 2 * B * (512 * 512 + 512 * 256);
const flops = 2 * (3 * linear - 2 * B * 512 * 512) + 2 * 3 * B * B * 256 + 2 * 3 * 4 * B * B * 256;

const gpu = await tryGetGpu();
if (gpu) {
  const rng = new Rng(1);
  const data = {
    image: gpu.storage(Float32Array.from({ length: N * 512 }, () => rng.normal())),
    text: gpu.storage(Float32Array.from({ length: N * 512 }, () => rng.normal())),
    label: gpu.storage(Int32Array.from({ length: N }, () => rng.int(2))),
  };
  const steps = N / B;
  // One slot per step of a submit: the profile below submits PROFILE_STEPS steps at once.
  const graph = new TrainGraph(gpu, head, DEFAULT_LOSS, DEFAULT_OPTIMIZER, B, data, steps, 8);
  graph.setEpochIndex(rng.permutation(N));
  gpu.write(graph.params, initialParameters(graph.layout, 1));
  let done = 0;
  benchThroughput({
    name: `GPU step (${STEPS} per submit, encode included)`,
    group,
    work: { flops: flops * STEPS },
    fn: async () => {
      const commands = Array.from({ length: STEPS }, (_, k) =>
        graph.step({
          stepInEpoch: (done + k) % steps,
          optimizerStep: done + k + 1,
          lr: 1e-4,
          seed: done + k,
          slot: k,
        })).flat();
      await gpu.run(commands);
      done += STEPS;
    },
  });
  profileByKernel(gpu, graph);
} else {
  benchThroughput({ name: "GPU step", group, work: {}, fn: () => {}, ignore: "no WebGPU adapter" });
}

const peer = await startBlasPeer("/usr/bin/python3", ["bench/peers/train_step_torch.py"]);
if (peer) console.log(`peer: ${peer.banner}`);
benchThroughput({
  name: `PyTorch CPU step ×${STEPS} (peer)`,
  group,
  baseline: true,
  work: { flops: flops * STEPS },
  ignore: peer ? false : "/usr/bin/python3 with torch not found (apt-get install python3-torch)",
  fn: async () => {
    for (let k = 0; k < STEPS; k++) await peer!.request("step");
  },
});

/**
 * Where a step's time goes: the commands of PROFILE_STEPS steps, prepared once, run filtered to one
 * kernel (or command kind) at a time. Every row also pays the fixed submit-and-wait latency that
 * the empty submit shows: a kernel's share of the step is its time minus that.
 */
function profileByKernel(gpu: GpuContext, graph: TrainGraph): void {
  const PROFILE_STEPS = 8; // the graph's slots
  const groupName = `train step by kernel (${PROFILE_STEPS} steps per submit)`;
  const all = Array.from(
    { length: PROFILE_STEPS },
    (_, k) => graph.step({ stepInEpoch: k, optimizerStep: k + 1, lr: 1e-4, seed: k, slot: k }),
  ).flat();
  const kind = (c: Command) =>
    "spec" in c ? c.spec.name : "upload" in c ? "upload" : "clear" in c ? "clear" : "copy";
  const row = (name: string, commands: Command[]) =>
    benchThroughput({
      name,
      group: groupName,
      work: {},
      n: 3,
      warmup: 1,
      fn: () => gpu.run(commands),
    });
  row("empty submit (latency in every row)", []);
  row(`all ${all.length} commands`, all);
  for (const name of [...new Set(all.map(kind))]) {
    const subset = all.filter((c) => kind(c) === name);
    row(`${name} ×${subset.length / PROFILE_STEPS}`, subset);
  }
}
