import { loadEmbeddings } from "./src/io/embeddings.ts";
import { train } from "./src/train/trainer.ts";
const demo = await loadEmbeddings("logs/demo/embeddings.safetensors");
for (const lr of [2e-3, 3e-4]) {
  const logs = await Deno.makeTempDir();
  const losses: string[] = [];
  const r = await train({ trainData: demo, batchSize: 64, epochs: 8, lr, warmup: 5, logs, name: "p", logEveryNSteps: 12,
    head: { hidden: 256, outDim: 128, layers: 2, dropout: 0.1 }, quiet: true },
    { onProgress: (p) => losses.push(`${p.terms.clip.toFixed(3)}/${p.terms.supcon.toFixed(3)}/${p.terms.bce.toFixed(3)}`) });
  console.log(lr, losses.join(" "), r.history.map((h) => h.val.mean_recall.toFixed(3)).join(" "));
}
