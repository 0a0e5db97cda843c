/**
 * Collections for the pgvector tests: the demo's files (`deno task train` writes them) when they
 * exist, and a SYNTHETIC collection shaped like the demo's (study facts, encoder ids, a head
 * checkpoint) written to a temporary folder otherwise, or when a test needs a variant.
 *
 * @module
 */

import { syntheticEmbeddings } from "../../src/data/synthetic_embeddings.ts";
import { saveEmbeddings, type StudyInfo } from "../../src/io/embeddings.ts";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import { initialParameters } from "../../src/model/init.ts";
import { ParameterLayout } from "../../src/model/parameters.ts";

/** A checkpoint and the collection it projects. */
export interface CollectionFiles {
  /** Projector checkpoint. */
  checkpoint: string;
  /** Embeddings file. */
  collection: string;
  /** The temporary folder holding both, to remove afterwards; absent for the demo's files. */
  dir?: string;
}

/** The demo's files, as `deno task train` leaves them. */
export const DEMO_FILES: CollectionFiles = {
  checkpoint: "logs/demo/checkpoints/best.safetensors",
  collection: "logs/demo/embeddings.safetensors",
};

/** {@link DEMO_FILES} when both exist, else null. */
export async function demoFiles(): Promise<CollectionFiles | null> {
  for (const path of Object.values(DEMO_FILES)) {
    if (!(await Deno.stat(path).catch(() => null))?.isFile) return null;
  }
  return DEMO_FILES;
}

/** Options of {@link writeDemoLikeCollection}. */
export interface DemoLikeOptions {
  /** Studies. */
  count: number;
  /** Frozen embedding width (default 32). */
  dim?: number;
  /** Projected width (default 16). */
  outDim?: number;
  /** Seed of the embeddings (default 1). */
  seed?: number;
  /** Seed of the (untrained) head (default 42). */
  headSeed?: number;
  /** Encoder ids recorded in the collection. */
  encoders?: { image: string; text: string };
}

/**
 * Writes a SYNTHETIC collection with study facts (two studies per patient; patient 0 has a quote
 * in its id) and an untrained head's checkpoint into a new temporary folder.
 * @example
 * ```ts
 * const files = await writeDemoLikeCollection({ count: 10 });
 * await Deno.remove(files.dir, { recursive: true });
 * ```
 */
export async function writeDemoLikeCollection(
  o: DemoLikeOptions,
): Promise<CollectionFiles & { dir: string }> {
  const dim = o.dim ?? 32, outDim = o.outDim ?? 16;
  const set = syntheticEmbeddings({
    count: o.count,
    dim,
    latent: 8,
    noise: 0.3,
    validation: 0.1,
    test: 0.2,
    seed: o.seed ?? 1,
  });
  set.studies = set.ids.map((id, i): StudyInfo => ({
    patientId: i < 2 ? "patient-o'brien" : `patient-${Math.floor(i / 2)}`,
    findings: set.label[i] === 1 ? [i % 3 === 0 ? "Cardiomegaly" : "Effusion"] : [],
    report: `SYNTHETIC report ${i}: ${set.label[i] === 1 ? "abnormal" : "no acute findings"}.`,
    imagePaths: [`images/${id}.png`],
  }));
  const encoders = o.encoders ?? { image: "image-synthetic", text: "text-synthetic" };
  set.metadata = { ...set.metadata, image_encoder: encoders.image, text_encoder: encoders.text };
  const head = { inDim: dim, hidden: 2 * dim, outDim, layers: 2, dropout: 0 };
  const norm = { mean: new Float32Array(dim), std: new Float32Array(dim).fill(1) };
  const dir = await Deno.makeTempDir({ prefix: "pgvector-fixture-" });
  const files = {
    dir,
    checkpoint: `${dir}/head.safetensors`,
    collection: `${dir}/embeddings.safetensors`,
  };
  await saveEmbeddings(files.collection, set);
  await saveCheckpoint(files.checkpoint, {
    head,
    config: {},
    position: {
      epoch: 0,
      stepInEpoch: 0,
      optimizerStep: 0,
      best: { metric: "none", value: 0, epoch: -1 },
      epochsWithoutImprovement: 0,
    },
    params: initialParameters(new ParameterLayout(head), o.headSeed ?? 42),
    inputNorm: { image: norm, text: norm },
  });
  return files;
}
