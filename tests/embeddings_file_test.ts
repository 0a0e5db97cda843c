/**
 * The embeddings file's optional parts: per-study facts (`studies`, JSON Lines in a U8 tensor) and
 * per-image embeddings (`image_each`, `image_study`) survive a save and load exactly, and a file
 * whose parts disagree is refused with the field named.
 */

import assert from "node:assert/strict";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { type EmbeddingSet, loadEmbeddings, saveEmbeddings } from "../src/io/embeddings.ts";
import { readSafetensors, tensor, writeSafetensors } from "../src/io/safetensors.ts";

/** A 3-study set whose second study has two images; study 3's report has a newline and "é". */
function collection(): EmbeddingSet {
  const o = { count: 3, dim: 4, latent: 2, noise: 0.1, validation: 0, test: 0, seed: 2 };
  const set = syntheticEmbeddings(o);
  const values = Float32Array.from({ length: 4 * 4 }, (_, i) => i / 7 - 1);
  return {
    ...set,
    studies: [
      { patientId: "p1", findings: [], report: "No acute disease.", imagePaths: ["a.png"] },
      {
        patientId: "p2",
        findings: ["Cardiomegaly", "Effusion"],
        report: "Enlarged heart.",
        imagePaths: ["b1.png", "b2.png"],
      },
      { patientId: "p2", findings: ["Edema"], report: "Édème\nbilateral.", imagePaths: ["c.png"] },
    ],
    images: { values, study: Int32Array.of(0, 1, 1, 2), count: 4 },
  };
}

Deno.test("embeddings file: studies and per-image embeddings round-trip", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/e.safetensors`, set = collection();
  await saveEmbeddings(path, set);
  assert.deepEqual(await loadEmbeddings(path), set);
  // A file without the optional parts loads without them.
  const { studies: _, images: __, ...plain } = set;
  await saveEmbeddings(path, plain);
  const again = await loadEmbeddings(path);
  assert.equal(again.studies, undefined);
  assert.equal(again.images, undefined);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("embeddings file: disagreeing optional parts are refused, naming the field", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/e.safetensors`;
  await saveEmbeddings(path, collection());
  const { tensors, metadata } = await readSafetensors(path);
  const rewrite = async (name: string, t: ReturnType<typeof tensor> | null) => {
    const changed = new Map(tensors);
    if (t) changed.set(name, t);
    else changed.delete(name);
    await writeSafetensors(path, changed, metadata);
  };
  const bytes = (text: string) => {
    const b = new TextEncoder().encode(text);
    return tensor(b, [b.length]);
  };
  const cases: [string, ReturnType<typeof tensor> | null, RegExp][] = [
    ["studies", bytes('{"patientId":"p"}\n'), /"studies" must hold 3 lines, has 1/],
    ["studies", bytes("{}\n{}\nnot json\n"), /"studies" line 3 is not JSON/],
    ["studies", bytes("{}\n{}\n{}\n"), /"studies" line 1 must be \{patientId, findings/],
    ["image_study", null, /"image_each" and "image_study" come together/],
    ["image_study", tensor(Int32Array.of(0, 2, 1, 2), [4]), /"image_study" row 2 is 1/],
    ["image_study", tensor(Int32Array.of(0, 1, 2, 2), [4]), /study row 1 \(id .*\) lists 2/],
    ["image_each", tensor(new Float32Array(12), [4, 3]), /"image_each" must be \[M, 4\]/],
  ];
  for (const [name, t, message] of cases) {
    await rewrite(name, t);
    await assert.rejects(() => loadEmbeddings(path), (e: Error) => {
      assert.match(e.message, message);
      assert.ok(e.message.startsWith(path), e.message);
      return true;
    }, `${name}: ${message}`);
  }
  await Deno.remove(dir, { recursive: true });
});
