import assert from "node:assert/strict";
import { join } from "node:path";
import { runSearch } from "../src/cli/search.ts";
import { generateSyntheticCxr } from "../src/data/synthetic_cxr.ts";
import { embedRecords } from "../src/encoders/embed_dataset.ts";
import { checkEncoders, encoderIds } from "../src/encoders/encoder_ids.ts";
import { readManifest } from "../src/encoders/manifest.ts";
import { syntheticEmbeddings } from "../src/data/synthetic_embeddings.ts";
import { saveEmbeddings } from "../src/io/embeddings.ts";
import { rejectsWith } from "./util/errors.ts";

const weights = new URL("../weights/demo", import.meta.url).pathname;

Deno.test("encoderIds of a weights folder are the ids embedRecords writes into a collection", async () => {
  const dir = await Deno.makeTempDir();
  const { records } = await generateSyntheticCxr({ count: 3, seed: 2, outDir: dir, size: 64 });
  const { set } = await embedRecords(records, {
    weightsDir: weights,
    cacheDir: join(dir, "cache"),
    progress: false,
  });
  const ids = encoderIds(await readManifest(weights));
  assert.equal(set.metadata.image_encoder, ids.image);
  assert.equal(set.metadata.text_encoder, ids.text);
  assert.equal(checkEncoders(set.metadata, ids, "c.safetensors", weights), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkEncoders: another tower is refused naming both ids; no ids is a warning", () => {
  const ids = { image: "image-aaaa-v1-224", text: "text-bbbb-cc-256" };
  assert.throws(
    () => checkEncoders({ ...ids, image_encoder: "image-ffff-v1-224" }, ids, "c.st", "w/"),
    (e: Error) => {
      assert.ok(e.message.includes("c.st was embedded by image encoder image-ffff-v1-224"));
      assert.ok(e.message.includes("but w/ holds image encoder image-aaaa-v1-224"), e.message);
      return true;
    },
  );
  assert.throws(
    () => checkEncoders({ image_encoder: ids.image, text_encoder: "x" }, ids, "c.st", "w/"),
    /c\.st was embedded by text encoder x, but w\/ holds text encoder text-bbbb-cc-256/,
  );
  const warning = checkEncoders({ text_encoder: ids.text }, ids, "c.st", "w/");
  assert.ok(warning?.includes("c.st records no encoder id (__metadata__.image_encoder)"), warning!);
});

/** A collection written as if by another encoder than weights/demo. */
async function foreignCollection(dir: string): Promise<string> {
  const set = syntheticEmbeddings({
    count: 20,
    dim: 128,
    latent: 4,
    noise: 0.1,
    validation: 0.2,
    test: 0.2,
    seed: 1,
  });
  const path = join(dir, "foreign.safetensors");
  const ids = encoderIds(await readManifest(weights));
  await saveEmbeddings(path, {
    ...set,
    metadata: {
      image_encoder: "image-0123456789abcdef-open_clip-bicubic-v1-224",
      text_encoder: ids.text,
    },
  });
  return path;
}

Deno.test("runSearch refuses a collection from another encoder before loading anything else", async () => {
  const dir = await Deno.makeTempDir();
  const collection = await foreignCollection(dir);
  await rejectsWith(
    () =>
      runSearch({
        checkpoint: join(dir, "none.safetensors"),
        collection,
        weights,
        text: "x",
        k: 5,
      }),
    `${collection} was embedded by image encoder image-0123456789abcdef-open_clip-bicubic-v1-224, ` +
      `but ${weights} holds image encoder ${encoderIds(await readManifest(weights)).image}`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task search with a collection from another encoder exits 1 naming both ids", async () => {
  const dir = await Deno.makeTempDir();
  const collection = await foreignCollection(dir);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../src/cli/search.ts", import.meta.url).pathname,
      ...["--checkpoint", join(dir, "none.safetensors"), "--collection", collection],
      ...["--weights", weights, "--text", "Small left pleural effusion."],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, stderr);
  assert.ok(stderr.includes("error: " + collection + " was embedded by image encoder"), stderr);
  assert.ok(stderr.includes(encoderIds(await readManifest(weights)).image), stderr);
  await Deno.remove(dir, { recursive: true });
});
