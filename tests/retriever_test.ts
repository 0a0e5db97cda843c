import assert from "node:assert/strict";
import { initialParameters } from "../src/model/init.ts";
import { ParameterLayout } from "../src/model/parameters.ts";
import { Projector } from "../src/retrieval/projector.ts";
import { Retriever } from "../src/retrieval/retriever.ts";
import { gpuTest, Rng } from "./util/check.ts";

gpuTest(
  "Retriever: top-k reports for an image equal a CPU ranking of projected cosines",
  async (gpu) => {
    const head = { inDim: 24, hidden: 16, outDim: 8, layers: 2, dropout: 0.1 };
    const rng = new Rng(4);
    const norm = {
      image: { mean: new Float32Array(24), std: new Float32Array(24).fill(2) },
      text: { mean: new Float32Array(24).fill(0.5), std: new Float32Array(24).fill(1) },
    };
    const projector = new Projector(
      gpu,
      head,
      initialParameters(new ParameterLayout(head), 3),
      norm,
    );
    const n = 70;
    const reports = Float32Array.from({ length: n * 24 }, () => rng.normal());
    const ids = Array.from({ length: n }, (_, i) => `report-${i}`);
    const retriever = await Retriever.create(projector, "text", reports, ids);
    const image = Float32Array.from({ length: 2 * 24 }, () => rng.normal());
    const hits = await retriever.queryBatch(image, 2, 5);

    const zt = await projector.project("text", reports, n);
    const zi = await projector.project("image", image, 2);
    for (let q = 0; q < 2; q++) {
      const scores = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let d = 0; d < 8; d++) s += zi[q * 8 + d] * zt[j * 8 + d];
        return s;
      });
      const order = scores.map((s, j) => [s, j]).sort((a, b) => b[0] - a[0]).slice(0, 5);
      assert.deepEqual(hits[q].map((h) => h.index), order.map(([, j]) => j));
      hits[q].forEach((h, k) => {
        assert.equal(h.id, ids[h.index]);
        assert.ok(Math.abs(h.score - order[k][0]) < 1e-4, `score ${h.score} vs ${order[k][0]}`);
      });
    }
    await assert.rejects(
      () => retriever.query(image.slice(0, 24), 71),
      /k must be an integer in 1\.\.64/,
    );
  },
);
