/**
 * `deno task query`: retrieval with a trained projector. Given a chest X-ray (`--image`), lists the
 * most similar reports of a collection; given a report (`--text`), the most similar images. The
 * collection is an embeddings file (`deno task embed`, or `logs/<name>/embeddings.safetensors`);
 * the query goes through the same frozen encoder (`--weights`) the collection was embedded with:
 * a collection whose recorded encoder ids differ from the weights' is refused, one that records
 * none is searched with a warning.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { checkEncoders, encoderIds } from "../encoders/encoder_ids.ts";
import { openBiomedClip } from "../encoders/encoders.ts";
import { readManifest } from "../encoders/manifest.ts";
import { preprocessImageFile } from "../encoders/preprocess_image.ts";
import { WordPieceTokenizer } from "../encoders/tokenizer.ts";
import { getGpu } from "../gpu/context.ts";
import { loadEmbeddings } from "../io/embeddings.ts";
import { Projector } from "../model/projector.ts";
import { type Hit, Retriever } from "../retrieval/retriever.ts";

const USAGE =
  `usage: deno task query --checkpoint <best.safetensors> --collection <embeddings.safetensors>
       (--image <file.png|jpg> | --text "<report>") [--weights weights/] [--k 5]`;

/** Options of {@link runQuery}. */
export interface QueryOptions {
  /** Projector checkpoint. */
  checkpoint: string;
  /** Embeddings file of the collection searched. */
  collection: string;
  /** Encoder weights folder (the collection's encoder). */
  weights: string;
  /** Query image path (image → reports). */
  image?: string;
  /** Query report text (report → images). */
  text?: string;
  /** Results. */
  k: number;
}

/**
 * Embeds the query with the frozen encoder and returns the `k` best items of the collection
 * (reports for an image, images for a report). Refuses a collection embedded by other towers
 * than `weights` holds (see {@link checkEncoders}).
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { train } from "../train/trainer.ts";
 * import { runEmbed } from "./embed.ts";
 * if (await tryGetGpu()) { // the projector runs on WebGPU
 *   const dir = await Deno.makeTempDir();
 *   const collection = `${dir}/embeddings.safetensors`; // 16 SYNTHETIC studies, demo encoders
 *   await runEmbed([
 *     "--dataset", "synthetic", "--data-dir", `${dir}/data`, "--synthetic-count", "16",
 *     "--weights", "weights/demo", "--cache-dir", `${dir}/cache`, "--out", collection,
 *   ]);
 *   const options = { trainData: collection, batchSize: 8, epochs: 2, logs: dir, quiet: true };
 *   const { logDir } = await train(options);
 *   const hits = await runQuery({
 *     checkpoint: `${logDir}/checkpoints/best.safetensors`,
 *     collection,
 *     weights: "weights/demo",
 *     image: `${dir}/data/synthetic-000001.png`,
 *     k: 3,
 *   }); // the 3 reports most similar to the image, best first
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function runQuery(o: QueryOptions): Promise<Hit[]> {
  if (!o.image === !o.text) throw new Error("give exactly one of --image and --text");
  const set = await loadEmbeddings(o.collection);
  const warning = checkEncoders(
    set.metadata,
    encoderIds(await readManifest(o.weights)),
    o.collection,
    o.weights,
  );
  if (warning) console.warn(warning);
  const projector = await Projector.load(o.checkpoint, await getGpu());
  const enc = await openBiomedClip(o.weights);
  try {
    let query: Float32Array<ArrayBuffer>;
    if (o.image) {
      query = await enc.image.encode(
        await preprocessImageFile(o.image, { size: enc.image.imageSize }),
      ) as Float32Array<ArrayBuffer>;
    } else {
      const tokenizer = await WordPieceTokenizer.fromVocabFile(enc.vocabPath);
      const { ids, mask } = tokenizer.encode(o.text!, enc.text.contextLength);
      query = await enc.text.encode(ids, mask) as Float32Array<ArrayBuffer>;
    }
    if (query.length !== set.dim) {
      throw new Error(
        `${o.weights}: the encoder gives ${query.length}-wide embeddings, ` +
          `${o.collection} holds ${set.dim}-wide ones; use the collection's encoder`,
      );
    }
    using retriever = await Retriever.create(
      projector,
      o.image ? "text" : "image",
      o.image ? set.text : set.image,
      set.ids,
    );
    return await retriever.query(query, Math.min(o.k, set.count, 64));
  } finally {
    await enc.image.release();
    await enc.text.release();
  }
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        checkpoint: { type: "string" },
        collection: { type: "string" },
        weights: { type: "string", default: "weights" },
        image: { type: "string" },
        text: { type: "string" },
        k: { type: "string", default: "5" },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      Deno.exit(0);
    }
    if (!values.checkpoint || !values.collection) throw new Error(USAGE);
    const hits = await runQuery({
      checkpoint: values.checkpoint,
      collection: values.collection,
      weights: values.weights,
      image: values.image,
      text: values.text,
      k: Number(values.k),
    });
    console.log(`${values.image ? "reports" : "images"} most similar to the query:`);
    hits.forEach((h, i) =>
      console.log(`${String(i + 1).padStart(3)}. ${h.id}  cosine ${h.score.toFixed(4)}`)
    );
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
