// Projector.classify: the trained BCE classifier's probability of abnormal, against a float64
// CPU forward from the checkpoint's parameters, and its screening quality after a short training.

import assert from "node:assert/strict";
import { join } from "node:path";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { splitRows } from "../src/io/embeddings.ts";
import { auroc } from "../src/metrics/screening.ts";
import { type Checkpoint, loadCheckpoint } from "../src/model/checkpoint.ts";
import { layerWidths } from "../src/model/config.ts";
import { NORM_EPS, type Tower } from "../src/model/head_graph.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import { Projector } from "../src/model/projector.ts";
import { geluForward } from "../src/reference/gelu.ts";
import { l2normForward } from "../src/reference/l2norm.ts";
import { linearForward } from "../src/reference/linear.ts";
import { train } from "../src/train/trainer.ts";
import { assertClose, gpuTest } from "./util/check.ts";

const set = syntheticEmbeddings({
  count: 320,
  dim: 32,
  latent: 8,
  noise: 0.3,
  validation: 0.2,
  test: 0.1,
  seed: 7,
});

/** sigmoid(classifier(l2norm(head(standardize(x))))) in float64, from the checkpoint alone. */
function cpuClassify(c: Checkpoint, tower: Tower, x: Float32Array, count: number): Float64Array {
  const layout = new ParameterLayout(c.head);
  const param = (name: string) => {
    const e = layout.get(name);
    return Float64Array.from(c.params.subarray(e.offset, e.offset + e.length));
  };
  const { mean, std } = c.inputNorm[tower];
  const dim = c.head.inDim;
  let h = Float64Array.from(x, (v, i) => (v - mean[i % dim]) / std[i % dim]);
  const widths = layerWidths(c.head);
  for (let l = 0; l < c.head.layers; l++) {
    const y = new Float64Array(count * widths[l + 1]);
    const shape = { rows: count, inDim: widths[l], outDim: widths[l + 1] };
    linearForward(
      h,
      param(`${tower}_head.${3 * l}.weight`),
      param(`${tower}_head.${3 * l}.bias`),
      y,
      shape,
    );
    if (l < c.head.layers - 1) geluForward(y, y, { length: y.length });
    h = y;
  }
  const z = new Float64Array(h.length), norm = new Float64Array(count);
  l2normForward(h, z, norm, { rows: count, dim: c.head.outDim, eps: NORM_EPS });
  const logits = new Float64Array(count);
  const shape = { rows: count, inDim: c.head.outDim, outDim: 1 };
  linearForward(z, param("classifier.weight"), param("classifier.bias"), logits, shape);
  return logits.map((v) => 1 / (1 + Math.exp(-v)));
}

gpuTest(
  "classify: trained head's probabilities equal a float64 CPU forward, AUROC on train",
  async (gpu) => {
    const logs = await Deno.makeTempDir();
    const r = await train({
      trainData: set,
      batchSize: 32,
      epochs: 10,
      lr: 3e-3,
      warmup: 4,
      logs,
      name: "run",
      head: { hidden: 32, outDim: 16, layers: 2, dropout: 0.1 },
      quiet: true,
    }, { gpu });
    const path = join(r.logDir, "checkpoints", "best.safetensors");
    const [checkpoint, projector] = [await loadCheckpoint(path), await Projector.load(path, gpu)];
    const trainRows = splitRows(set, "train");
    const labels = Int32Array.from(trainRows, (i) => set.label[i]);
    for (const tower of ["image", "text"] as const) {
      const all = await projector.classify(tower, set[tower]);
      assert.equal(all.length, set.count);
      assertClose(all, cpuClassify(checkpoint, tower, set[tower], set.count), {
        atol: 1e-5,
        rtol: 0,
      }, `${tower} probabilities`);
      const a = auroc(Float64Array.from(trainRows, (i) => all[i]), labels);
      assert.ok(a > 0.9, `${tower} AUROC on the train split: ${a}`);
    }
    await assert.rejects(
      () => projector.classify("image", set.image.slice(0, 40)),
      /image embeddings must be \[count >= 1, 32\] with count 1\.25, got 40 values/,
    );
    await Deno.remove(logs, { recursive: true });
  },
);
