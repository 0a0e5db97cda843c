/**
 * The training step's exact arithmetic, pinned: losses and parameters after 5 steps (2 epochs of
 * shuffled batches, dropout on, clipping on) hashed bit for bit and compared with the hashes
 * recorded on the software adapters CI runs (`tests/fixtures/train_step_bits.json`, keyed by
 * backend and adapter). A refactor of the step must leave them unchanged; a change of the maths
 * records new ones (`CXR_RECORD_BITS=1`) and says why in its commit.
 */
import assert from "node:assert/strict";
import type { Command, GpuContext } from "../src/gpu/context.ts";
import { sha256Hex } from "../src/encoders/manifest.ts";
import { initialParameters } from "../src/model/init.ts";
import { TrainGraph } from "../src/model/train_graph.ts";
import { gpuTest, randn, Rng } from "./util/check.ts";

const FIXTURE = new URL("./fixtures/train_step_bits.json", import.meta.url);
const recorded = JSON.parse(await Deno.readTextFile(FIXTURE)) as Record<string, string>;

const head = { inDim: 48, hidden: 40, outDim: 24, layers: 2, dropout: 0.1 };
const loss = { wClip: 1, wSupcon: 0.5, wBce: 0.25, temperature: 0.1 };
const optimizer = { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2, maxGradNorm: 1 };
const B = 8, N = 16, STEPS = 5;

/**
 * Hash of the loss slots and parameters after 5 steps over 3 epochs (2 + 2 + 1 steps), one
 * submit per step, or one per epoch (several steps' uniform records in one submit).
 */
async function fiveSteps(gpu: GpuContext, perEpoch: boolean): Promise<string> {
  const rng = new Rng(7);
  const data = {
    image: gpu.storage(Float32Array.from(randn(rng, N * head.inDim))),
    text: gpu.storage(Float32Array.from(randn(rng, N * head.inDim))),
    label: gpu.storage(Int32Array.from({ length: N }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0)),
  };
  const graph = new TrainGraph(gpu, head, loss, optimizer, B, data, N / B, STEPS);
  gpu.write(graph.params, initialParameters(graph.layout, 3));
  // Epoch e visits the pairs in the order (5i + 3e) mod N: a permutation, since 5 and 16 are coprime.
  const order = (e: number) => Uint32Array.from({ length: N }, (_, i) => (5 * i + 3 * e) % N);
  let pending: Command[] = [];
  for (let s = 0; s < STEPS; s++) {
    const stepInEpoch = s % (N / B);
    if (stepInEpoch === 0) graph.setEpochIndex(order(s / (N / B)));
    const lr = 1e-2 * (1 - s / STEPS);
    pending.push(...graph.step({ stepInEpoch, optimizerStep: s + 1, lr, seed: 100 + s, slot: s }));
    const epochEnds = stepInEpoch === N / B - 1 || s === STEPS - 1;
    if (!perEpoch || epochEnds) {
      await gpu.run(pending);
      pending = [];
    }
  }
  const [losses, params] = await gpu.readBytes([graph.losses, graph.params]);
  return `${await sha256Hex(new Uint8Array(losses))} ${await sha256Hex(new Uint8Array(params))}`;
}

gpuTest("5 training steps are bit-identical to the recorded ones", async (gpu) => {
  const hash = await fiveSteps(gpu, false);
  assert.equal(await fiveSteps(gpu, true), hash, "one submit per epoch equals one per step");
  const key = `${gpu.info.backend} ${gpu.info.name}`;
  if (Deno.env.get("CXR_RECORD_BITS") === "1") {
    recorded[key] = hash;
    await Deno.writeTextFile(FIXTURE, JSON.stringify(recorded, null, 2) + "\n");
  }
  if (!(key in recorded)) {
    console.warn(`no recorded step bits for "${key}": only the run itself was checked`);
    return;
  }
  assert.equal(hash, recorded[key], `losses and parameters after ${STEPS} steps on ${key}`);
});
