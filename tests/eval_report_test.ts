// `deno task eval`'s report: its charts and PNGs, the ROC points of the checkpoint rows, and the
// t-SNE pictures of the no-head row and the chosen checkpoint.

import assert from "node:assert/strict";
import { join } from "node:path";
import { runEval } from "../src/cli/eval.ts";
import { evalTsnePanels, tsnePanels } from "../src/eval/tsne_panels.ts";
import { selectRows, splitRows } from "../src/io/embeddings.ts";
import { rocCurve } from "../src/metrics/screening.ts";
import { Projector } from "../src/model/projector.ts";
import { gpuTest } from "./util/check.ts";
import { EVAL_CHARTS, tinyRun } from "./util/tiny_run.ts";

/** The `data-chart` names of a report's figures, in page order. */
function chartNames(html: string): string[] {
  return [...html.matchAll(/<figure data-chart="([^"]+)"/g)].map((m) => m[1]);
}

gpuTest("eval report: charts, PNGs, ROC points and the chosen checkpoint's t-SNE", async (gpu) => {
  const dir = await Deno.makeTempDir();
  try {
    const { set, embeddings, checkpoint } = await tinyRun(gpu, dir);
    const out = join(dir, "eval");
    const args = ["--embeddings", embeddings, "--checkpoint", checkpoint, "--out", out];
    const { result, report } = await runEval([...args, "--tsne-checkpoint", "tiny"]);
    assert.equal(report, join(out, "report.html"));
    const html = await Deno.readTextFile(report);
    assert.deepEqual(chartNames(html), EVAL_CHARTS);
    for (const name of EVAL_CHARTS) await Deno.stat(join(out, `${name}.png`));
    for (const text of ["SYNTHETIC", "tiny (AUROC ", "<dt>AUROC</dt>", checkpoint]) {
      assert.ok(html.includes(text), `missing ${text}`);
    }

    // The ROC points are rocCurve's of the head's probabilities.
    const rows = splitRows(set, "test"), n = rows.length;
    const labels = Int32Array.from(rows, (r) => set.label[r]);
    const p = await Projector.load(checkpoint, gpu);
    for (const tower of ["image", "text"] as const) {
      const x = selectRows(tower === "image" ? set.image : set.text, rows, set.dim);
      const curve = rocCurve(await p.classify(tower, x, n), labels);
      assert.deepEqual(result.rows[1].roc![tower], curve.map(({ fpr, tpr }) => ({ fpr, tpr })));
    }
    assert.equal(result.rows[0].roc, undefined, "no ROC without a head");

    // The checkpoint's pictures are t-SNE of its projections.
    const panels = await evalTsnePanels(gpu, set, result);
    assert.deepEqual(panels.map((q) => q.title), [
      `image embeddings, ${result.rows[0].name}`,
      `report embeddings, ${result.rows[0].name}`,
      "image embeddings, tiny",
      "report embeddings, tiny",
    ]);
    const image = await p.project("image", selectRows(set.image, rows, set.dim), n);
    const text = await p.project("text", selectRows(set.text, rows, set.dim), n);
    const expected = await tsnePanels(gpu, {
      name: "tiny",
      image,
      text,
      count: n,
      dim: p.head.outDim,
    }, labels);
    assert.deepEqual(panels.slice(2), expected);
    assert.deepEqual(panels[0].labels, labels);
    await assert.rejects(
      () => evalTsnePanels(gpu, set, result, { checkpoint: "nope" }),
      /t-SNE checkpoint nope: no such checkpoint row \(rows: tiny\)/,
    );

    // Without a checkpoint: the bars and the no-head pictures only.
    const bare = await runEval(["--embeddings", embeddings, "--out", join(dir, "bare")]);
    assert.deepEqual(chartNames(await Deno.readTextFile(bare.report)), [
      "bars_image_to_text",
      "bars_text_to_image",
      "tsne_image_no_head",
      "tsne_report_no_head",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

gpuTest("tsnePanels: evenly spaced subsample, findings kept with their points", async (gpu) => {
  const count = 30, dim = 4;
  const image = Float32Array.from({ length: count * dim }, (_, k) => Math.sin(k));
  const text = Float32Array.from({ length: count * dim }, (_, k) => Math.cos(3 * k));
  const labels = Int32Array.from({ length: count }, (_, i) => i % 2);
  const findings = Array.from({ length: count }, (_, i) => (i % 2 ? [`f${i}`] : []));
  const model = { name: "m", image, text, count, dim };
  const [img, rep] = await tsnePanels(gpu, model, labels, { maxPoints: 10, findings });
  for (const panel of [img, rep]) {
    assert.equal(panel.points.length, 20);
    assert.ok(panel.points.every(Number.isFinite));
    assert.deepEqual([...panel.labels], [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]); // rows 0, 3, 6, …, 27
    assert.deepEqual(panel.findings![1], ["f3"]);
    assert.equal(panel.caption, "10 of the 30 studies, evenly spaced.");
  }
  await assert.rejects(
    () => tsnePanels(gpu, model, labels.subarray(1)),
    /t-SNE of m: 30 studies, 29 labels and no finding lists; expected one per study/,
  );
});
