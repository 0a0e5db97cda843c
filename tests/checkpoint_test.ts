import assert from "node:assert/strict";
import { join } from "node:path";
import type { HeadConfig } from "../src/model/config.ts";
import { initialParameters } from "../src/model/init.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsFile,
  tensor,
} from "../src/io/safetensors.ts";
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from "../src/model/checkpoint.ts";
import { rejectsWith } from "./util/errors.ts";

const head: HeadConfig = { inDim: 6, hidden: 5, outDim: 4, layers: 2, dropout: 0.1 };

function checkpoint(): Checkpoint {
  const layout = new ParameterLayout(head);
  const norm = () => ({ mean: new Float32Array(6).fill(0.5), std: new Float32Array(6).fill(2) });
  return {
    head,
    config: { batchSize: 8 },
    position: {
      epoch: 1,
      stepInEpoch: 2,
      optimizerStep: 9,
      best: { metric: "mean_recall", value: -Infinity, epoch: -1 },
      epochsWithoutImprovement: 0,
    },
    params: initialParameters(layout, 1),
    inputNorm: { image: norm(), text: norm() },
    m: new Float32Array(layout.length).fill(0.25),
    v: new Float32Array(layout.length).fill(0.125),
  };
}

/** A saved checkpoint, changed by `edit` (on its decoded tensors and metadata) and written back. */
async function corrupted(dir: string, name: string, edit: (f: SafetensorsFile) => void) {
  const path = join(dir, name);
  await saveCheckpoint(path, checkpoint());
  const file = decodeSafetensors(await Deno.readFile(path), path);
  edit(file);
  await Deno.writeFile(path, encodeSafetensors(file.tensors, file.metadata));
  return path;
}

Deno.test("checkpoint: what is saved loads back, -Infinity best value included", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "ok.safetensors");
  const c = checkpoint();
  await saveCheckpoint(path, c);
  const back = await loadCheckpoint(path);
  assert.deepEqual(back.position, c.position);
  assert.deepEqual(back.head, c.head);
  assert.deepEqual(back.config, c.config);
  assert.deepEqual(back.m, c.m);
  assert.deepEqual(back.inputNorm, c.inputNorm);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint: bad metadata is refused, naming the file and the field", async () => {
  const dir = await Deno.makeTempDir();
  const badJson = await corrupted(dir, "json.safetensors", (f) => {
    f.metadata.position = '{"epoch": 1,';
  });
  await rejectsWith(
    () => loadCheckpoint(badJson),
    `${badJson}: __metadata__.position is not valid JSON`,
  );
  const noHead = await corrupted(dir, "nohead.safetensors", (f) => delete f.metadata.head);
  await rejectsWith(() => loadCheckpoint(noHead), `${noHead}: __metadata__.head is missing`);
  const badHead = await corrupted(dir, "head.safetensors", (f) => {
    f.metadata.head = JSON.stringify({ ...head, layers: "2" });
  });
  await rejectsWith(
    () => loadCheckpoint(badHead),
    `${badHead}: __metadata__.head: head config: layers must be an integer >= 1, got 2`,
  );
  const badStep = await corrupted(dir, "step.safetensors", (f) => {
    f.metadata.position = JSON.stringify({ ...checkpoint().position, optimizerStep: -3 });
  });
  await rejectsWith(
    () => loadCheckpoint(badStep),
    `${badStep}: __metadata__.position.optimizerStep must be an integer >= 0, is -3`,
  );
  const badBest = await corrupted(dir, "best.safetensors", (f) => {
    f.metadata.position = JSON.stringify({ ...checkpoint().position, best: { value: 1 } });
  });
  await rejectsWith(
    () => loadCheckpoint(badBest),
    `${badBest}: __metadata__.position.best.metric must be a string`,
  );
  const badConfig = await corrupted(dir, "config.safetensors", (f) => {
    f.metadata.config = "[1, 2]";
  });
  await rejectsWith(
    () => loadCheckpoint(badConfig),
    `${badConfig}: __metadata__.config must be a JSON object`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint: a NaN or infinite value is refused, naming the file and tensor", async () => {
  const dir = await Deno.makeTempDir();
  const nan = await corrupted(dir, "nan.safetensors", (f) => {
    const w = new Float32Array(f.tensors.get("text_head.3.weight")!.data.buffer);
    w[7] = NaN;
  });
  await rejectsWith(
    () => loadCheckpoint(nan),
    `${nan}: tensor "text_head.3.weight" holds NaN at flat index 7`,
  );
  const inf = await corrupted(dir, "inf.safetensors", (f) => {
    new Float32Array(f.tensors.get("optimizer.exp_avg_sq")!.data.buffer)[3] = Infinity;
  });
  await rejectsWith(
    () => loadCheckpoint(inf),
    `${inf}: tensor "optimizer.exp_avg_sq" holds Infinity at flat index 3`,
  );
  const zeroStd = await corrupted(dir, "std.safetensors", (f) => {
    f.tensors.set("input_norm.text_std", tensor(new Float32Array(6), [6]));
  });
  await rejectsWith(
    () => loadCheckpoint(zeroStd),
    `${zeroStd}: tensor "input_norm.text_std" holds 0 at index 0, must be > 0`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint: tensors of the wrong shape or dtype for the head config", async () => {
  const dir = await Deno.makeTempDir();
  const shape = await corrupted(dir, "shape.safetensors", (f) => {
    f.tensors.set("image_head.0.weight", tensor(new Float32Array(30), [6, 5]));
  });
  await rejectsWith(
    () => loadCheckpoint(shape),
    `${shape}: tensor "image_head.0.weight" is [6,5], the head config needs [5,6]`,
  );
  const dtype = await corrupted(dir, "dtype.safetensors", (f) => {
    f.tensors.set("logit_scale", tensor(new Int32Array(1), []));
  });
  await rejectsWith(
    () => loadCheckpoint(dtype),
    `${dtype}: tensor "logit_scale" must be F32, is I32`,
  );
  const missing = await corrupted(dir, "missing.safetensors", (f) => {
    f.tensors.delete("optimizer.exp_avg");
  });
  await rejectsWith(
    () => loadCheckpoint(missing),
    `${missing}: missing tensor "optimizer.exp_avg"`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint: a cut-off file is refused as truncated, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "cut.safetensors");
  await saveCheckpoint(path, checkpoint());
  const bytes = await Deno.readFile(path);
  // Cut inside the tensor data, then inside the JSON header.
  for (const keep of [bytes.length - 10, 40]) {
    await Deno.writeFile(path, bytes.subarray(0, keep));
    await rejectsWith(() => loadCheckpoint(path), `${path}: file is cut off (truncated)`);
  }
  await Deno.writeFile(path, bytes.subarray(0, 5));
  await rejectsWith(() => loadCheckpoint(path), `${path}: not a safetensors file`);
  await Deno.remove(dir, { recursive: true });
});
