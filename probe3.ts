import { loadEmbeddings, splitRows } from "./src/io/embeddings.ts";
import { train } from "./src/train/trainer.ts";
const demo = await loadEmbeddings("logs/demo/embeddings.safetensors");
const tr = splitRows(demo, "train"), d = demo.dim;
for (const name of ["image", "text"] as const) {
  const x = demo[name]; const mu = new Float64Array(d), sd = new Float64Array(d);
  for (const r of tr) for (let j = 0; j < d; j++) mu[j] += x[r*d+j] / tr.length;
  for (const r of tr) for (let j = 0; j < d; j++) sd[j] += (x[r*d+j]-mu[j])**2 / tr.length;
  for (let i = 0; i < demo.count; i++) for (let j = 0; j < d; j++) x[i*d+j] = (x[i*d+j]-mu[j]) / Math.sqrt(sd[j] + 1e-8);
}
for (const lr of [2e-3, 3e-4]) {
  const logs = await Deno.makeTempDir();
  const losses: string[] = [];
  const r = await train({ trainData: demo, batchSize: 64, epochs: 8, lr, warmup: 5, logs, name: "p", logEveryNSteps: 12,
    head: { hidden: 256, outDim: 128, layers: 2, dropout: 0.1 }, quiet: true },
    { onProgress: (p) => losses.push(`${p.terms.clip.toFixed(3)}/${p.terms.supcon.toFixed(3)}/${p.terms.bce.toFixed(3)}`) });
  console.log(lr, losses.join(" "), r.history.map((h) => h.val.mean_recall.toFixed(3)).join(" "));
}
