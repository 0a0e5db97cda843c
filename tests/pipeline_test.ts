import assert from "node:assert/strict";
import { join } from "node:path";
import { runSearch } from "../src/cli/search.ts";
import { parseTrainArgs } from "../src/cli/train.ts";
import { COLUMNS } from "../src/eval/run_report.ts";
import { isDemo, pipelineOptions } from "../src/pipeline/options.ts";
import { runPipeline } from "../src/pipeline/run_pipeline.ts";
import { gpuTest } from "./util/check.ts";

gpuTest(
  "deno task train --dataset synthetic: generate, embed, train, evaluate, report",
  async () => {
    const dir = await Deno.makeTempDir();
    const args = [
      ["--dataset", "synthetic"],
      ["--data-dir", join(dir, "data")],
      ["--synthetic-count", "160"],
      ["--cache-dir", join(dir, "cache")],
      ["--logs", dir],
      ["--name", "smoke"],
      ["--epochs", "2"],
      ["--batch-size", "32"],
      ["--hidden", "64"],
      ["--out-dim", "32"],
      ["--quiet"],
    ].flat();
    const given = parseTrainArgs(args);
    const parsed = structuredClone(given);
    const lines: string[] = [];
    const { table, evaluation } = await runPipeline(given, { log: (l) => lines.push(l) });
    assert.deepEqual(given, parsed, "the parsed options are not changed");
    assert.ok(table && table.includes("image_to_text_R@5"), `table:\n${table}`);
    assert.equal(evaluation?.split, "test");
    assert.match(
      lines.join("\n"),
      /^synthetic: 160 studies .*\nencoders: (native|wasm), .*\nembed: 160 images at .* about [\d:]+\nembedded \d+ images and \d+ reports/,
    );
    const run = join(dir, "smoke");
    const ba = JSON.parse(await Deno.readTextFile(join(run, "before_after.json")));
    assert.deepEqual(Object.keys(ba.metrics), Object.values(COLUMNS));
    const html = await Deno.readTextFile(join(run, "report.html"));
    assert.ok(html.includes("text_to_image_R@10") && html.includes("<svg"));
    // The synthetic records' findings colour a second set of t-SNE pictures.
    const tsne = ["image_raw", "image_trained", "report_raw", "report_trained"];
    const charts = ["loss", "validation", ...tsne.map((t) => `tsne_${t}`)];
    for (
      const f of [
        ...[...charts, ...tsne.map((t) => `tsne_${t}_findings`)].map((c) => `${c}.png`),
        "embeddings.safetensors",
        "results.jsonl",
      ]
    ) {
      await Deno.stat(join(run, f));
    }
    // deno task search: an image of the set against its reports, and a report against its images.
    const query = {
      checkpoint: join(run, "checkpoints", "best.safetensors"),
      collection: join(run, "embeddings.safetensors"),
      weights: new URL("../weights/demo", import.meta.url).pathname,
      k: 5,
    };
    const manifest = await Deno.readTextFile(join(dir, "data", "manifest.jsonl"));
    const ids = manifest.trim().split("\n").map((l) => JSON.parse(l).id as string);
    for (
      const { hits } of [
        await runSearch({ ...query, image: join(dir, "data", `${ids[0]}.png`) }),
        await runSearch({ ...query, text: "Moderate right-sided pneumothorax." }),
      ]
    ) {
      assert.equal(hits.length, 5);
      assert.ok(hits.every((h) => ids.includes(h.id)));
      assert.ok(hits.every((h, i) => i === 0 || hits[i - 1].score >= h.score), "best first");
    }
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("deno task train --help documents every flag", () => {
  const o = parseTrainArgs(["--help"]);
  assert.ok(o.help);
});

Deno.test("the demo's defaults fill only the flags not given (--out-dim alone is kept)", () => {
  const demo = (args: string[]) => {
    const given = parseTrainArgs(args);
    const parsed = structuredClone(given);
    assert.ok(isDemo(given));
    const o = pipelineOptions(given);
    assert.deepEqual(given, parsed, "the parsed options are not changed");
    return { ...o.head, batchSize: o.batchSize, dataset: o.dataset };
  };
  const d = { dropout: 0.1, layers: 2, batchSize: 64, dataset: "synthetic" };
  assert.deepEqual(demo([]), { ...d, hidden: 256, outDim: 128 });
  assert.deepEqual(demo(["--out-dim", "64"]), { ...d, hidden: 256, outDim: 64 });
  assert.deepEqual(demo(["--hidden", "32"]), { ...d, hidden: 32, outDim: 128 });
  assert.deepEqual(demo(["--batch-size", "16"]), { ...d, hidden: 256, outDim: 128, batchSize: 16 });
  const file = parseTrainArgs(["--train-data", "e.safetensors"]);
  assert.equal(isDemo(file), false);
  const o = pipelineOptions(file);
  assert.deepEqual([o.dataset, o.batchSize, o.head.hidden], [null, 256, 512]);
});
