/**
 * Exact t-SNE wall time on 512-d inputs (the BiomedCLIP embedding width) shaped like the
 * normal/abnormal pictures: 1,000 and 2,000 points × 1,000 iterations, and the affinity stage
 * (distances + perplexity search) alone. Few runs each: one run takes seconds.
 */
import { inputDistances, jointProbabilities, tsne } from "../src/eval/tsne.ts";
import { Rng } from "../src/util/rng.ts";

const DIM = 512, ITERATIONS = 1000;

/** Two overlapping Gaussian classes in `DIM` dimensions. */
function embeddings(count: number): Float32Array {
  const rng = new Rng(count), x = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < DIM; k++) x[i * DIM + k] = rng.normal() + (i % 2 === k % 2 ? 0.3 : 0);
  }
  return x;
}

for (const count of [1000, 2000]) {
  const x = embeddings(count);
  Deno.bench({
    name: `tsne ${count} points × ${ITERATIONS} iterations (512-d, perplexity 30)`,
    group: `tsne ${count}`,
    baseline: true,
    n: 3,
    warmup: 0,
    fn: () => {
      tsne(x, count, DIM, { iterations: ITERATIONS });
    },
  });
  Deno.bench({
    name: `affinities only: distances + perplexity search (${count} points)`,
    group: `tsne ${count}`,
    n: 3,
    warmup: 0,
    fn: () => {
      jointProbabilities(inputDistances(x, count, DIM, "euclidean"), count, 30);
    },
  });
}
