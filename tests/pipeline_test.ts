import assert from "node:assert/strict";
import { join } from "node:path";
import { runQuery } from "../src/cli/query.ts";
import { parseTrainArgs, runTrain } from "../src/cli/train.ts";
import { COLUMNS } from "../src/eval/run_report.ts";
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
    const table = await runTrain(parseTrainArgs(args));
    assert.ok(table && table.includes("image_to_text_R@5"), `table:\n${table}`);
    const run = join(dir, "smoke");
    const ba = JSON.parse(await Deno.readTextFile(join(run, "before_after.json")));
    assert.deepEqual(Object.keys(ba.metrics), Object.values(COLUMNS));
    const html = await Deno.readTextFile(join(run, "report.html"));
    assert.ok(html.includes("text_to_image_R@10") && html.includes("data:image/png;base64,"));
    for (
      const f of ["tsne_raw.png", "tsne_trained.png", "embeddings.safetensors", "results.jsonl"]
    ) {
      await Deno.stat(join(run, f));
    }
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("deno task train --help documents every flag", () => {
  const o = parseTrainArgs(["--help"]);
  assert.ok(o.help);
});
