import { ParameterLayout } from "../src/model/parameters.ts";
import { LOSS_TERMS, lossTermsAt } from "../src/model/loss_readback.ts";
import { TrainGraph } from "../src/model/train_graph.ts";
import { assertClose, f32, gpuTest } from "./util/check.ts";

interface Named {
  shape: number[];
  values: number[];
}
const fx = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/train_steps.json", import.meta.url)),
) as {
  config: Record<string, number>;
  image: number[];
  text: number[];
  label: number[];
  initial: Record<string, Named>;
  steps: Record<string, number>[];
  final: Record<string, Named>;
};

function flatFrom(
  layout: ParameterLayout,
  named: Record<string, Named>,
): Float32Array<ArrayBuffer> {
  return layout.fromTorch((e) => f32(named[e.name].values));
}

gpuTest("5 training steps on the GPU match PyTorch (losses and parameters)", async (gpu) => {
  const c = fx.config;
  const head = { inDim: c.inDim, hidden: c.hidden, outDim: c.outDim, layers: 2, dropout: 0 };
  const loss = { wClip: c.wClip, wSupcon: c.wSupcon, wBce: c.wBce, temperature: c.temperature };
  const optimizer = {
    beta1: c.beta1,
    beta2: c.beta2,
    eps: c.eps,
    weightDecay: c.weightDecay,
    maxGradNorm: c.maxGradNorm,
  };
  const B = c.batch;
  const data = {
    image: gpu.storage(f32(fx.image)),
    text: gpu.storage(f32(fx.text)),
    label: gpu.storage(Int32Array.from(fx.label)),
  };
  const graph = new TrainGraph(gpu, head, loss, optimizer, B, data, 1, c.steps);
  graph.setEpochIndex(Uint32Array.from({ length: B }, (_, i) => i));
  const layout = new ParameterLayout(head);
  gpu.write(graph.params, flatFrom(layout, fx.initial));
  const commands = [];
  for (let s = 0; s < c.steps; s++) {
    const step = { stepInEpoch: 0, optimizerStep: s + 1, lr: c.lr, seed: 0, slot: s };
    commands.push(...graph.step(step));
  }
  await gpu.run(commands);
  const [losses, params] = await gpu.readMany([graph.losses, graph.params]);
  for (let s = 0; s < c.steps; s++) {
    const got = lossTermsAt(losses, s);
    const want = LOSS_TERMS.map((t) => fx.steps[s][t]);
    assertClose(got, want, { atol: 1e-6, rtol: 1e-4 }, `loss terms at step ${s + 1}`);
  }
  assertClose(
    params,
    flatFrom(layout, fx.final),
    { atol: 1e-4, rtol: 1e-4 },
    "parameters after 5 steps",
  );
});
