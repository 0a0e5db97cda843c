/**
 * Chest X-ray image–report retrieval: BiomedCLIP's frozen encoders (ONNX, onnxruntime), a
 * lightweight projector head per modality trained on the GPU with hand-written WGSL kernels
 * (CLIP + supervised contrastive + BCE loss, arXiv 2601.05399), and retrieval by image or report.
 *
 * Train the heads on paired embeddings, then retrieve reports for an image. The embeddings here
 * are a tiny SYNTHETIC set made in memory; real ones come from the frozen encoders
 * (`deno task embed`, or {@link embedRecords}). Training and retrieval run on WebGPU.
 *
 * @example
 * ```ts
 * import { Projector, Retriever, syntheticEmbeddings, train, tryGetGpu } from "./mod.ts";
 * const o = { count: 64, dim: 16, latent: 4, noise: 0.3, validation: 0.25, test: 0.25, seed: 1 };
 * const set = syntheticEmbeddings(o); // 64 image/report pairs, labels and splits
 * if (await tryGetGpu()) {
 *   const logs = await Deno.makeTempDir();
 *   const result = await train({ trainData: set, batchSize: 16, epochs: 3, logs, quiet: true });
 *   const projector = await Projector.load(`${result.logDir}/checkpoints/best.safetensors`);
 *   const reports = await Retriever.create(projector, "text", set.text, set.ids);
 *   const image = set.image.slice(0, set.dim); // the first study's image embedding
 *   const hits = await reports.query(image, 5); // [{ id, index, score }], best first
 *   await Deno.remove(logs, { recursive: true });
 * }
 * ```
 *
 * @module
 */

// Training and retrieval
export {
  DEFAULT_TRAIN_OPTIONS,
  DivergedError,
  type EpochResult,
  train,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
} from "./src/train/trainer.ts";
export { type Checkpoint, loadCheckpoint, saveCheckpoint } from "./src/model/checkpoint.ts";
export { parseResultLine, readResults, resultLine } from "./src/train/results_log.ts";
export * from "./src/model/projector.ts";
export { type Hit, Retriever } from "./src/retrieval/retriever.ts";
export * from "./src/retrieval/search.ts";
export {
  type DemoCollection,
  type DemoCollectionOptions,
  trainDemoCollection,
} from "./src/retrieval/demo_collection.ts";
export { type ApiHit, type AppOptions, searchApp } from "./src/serve/app.ts";
export { type ServeOptions, serveSearch } from "./src/serve/server.ts";
export * from "./src/retrieval/search_index.ts";
export * from "./src/retrieval/gpu_index.ts";
export * from "./src/retrieval/pgvector_index.ts";
export * from "./src/retrieval/pgvector_write.ts";
export * from "./src/retrieval/pgvector_schema.ts";
export { connect as connectPostgres, describeServer } from "./src/retrieval/pg_connection.ts";
export * from "./src/model/config.ts";
export { ParameterLayout } from "./src/model/parameters.ts";
export { type InputNorm, type Moments } from "./src/model/input_norm.ts";

// The whole pipeline: data, embedding, training, before/after evaluation and report
export * from "./src/pipeline/options.ts";
export * from "./src/pipeline/run_pipeline.ts";
export * from "./src/pipeline/dataset_embeddings.ts";

// Embeddings files and datasets
export * from "./src/io/embeddings.ts";
export * from "./src/io/safetensors.ts";
export { writeFileAtomic } from "./src/util/atomic_write.ts";
export * from "./src/data/record.ts";
export * from "./src/data/labels.ts";
export * from "./src/data/openi.ts";
export * from "./src/data/iu_xray_csv.ts";
export * from "./src/data/r2gen.ts";
export * from "./src/data/mimic_cxr.ts";
export * from "./src/data/manifest.ts";
export * from "./src/data/splits.ts";
export * from "./src/data/load_dataset.ts";
export { generateSyntheticCxr, type SyntheticOptions } from "./src/data/synthetic_cxr.ts";
export { syntheticEmbeddings } from "./src/data/synthetic_embeddings.ts";

// Frozen encoders
export * from "./src/encoders/biomedclip_config.ts";
export {
  type BiomedClipEncoders,
  type EncoderOptions,
  ImageEncoder,
  openBiomedClip,
  TextEncoder,
  type TokenArray,
} from "./src/encoders/encoders.ts";
export * from "./src/encoders/onnx_runtime.ts";
export { withSizedWasmHeap } from "./src/encoders/wasm_heap.ts";
export { type ManifestFile, readManifest, type WeightsManifest } from "./src/encoders/manifest.ts";
export * from "./src/encoders/encoder_ids.ts";
export { type ImportOptions, importWeights } from "./src/encoders/import_weights.ts";
export { WEIGHT_FILES, writeWeightsFolder } from "./src/encoders/weights_folder.ts";
export { buildImageTower, buildTextTower, OPSET } from "./src/encoders/onnx_builder.ts";
export { readTorchCheckpoint } from "./src/encoders/torch_checkpoint.ts";
export { safetensorsStateDict } from "./src/encoders/safetensors_reader.ts";
export * from "./src/encoders/preprocess_image.ts";
export * from "./src/encoders/tokenizer.ts";
export * from "./src/encoders/clip_config.ts";
export {
  CLIP_WEIGHT_FILES,
  type ClipImportOptions,
  importClipWeights,
  openTokenizer,
} from "./src/encoders/clip_import.ts";
export { buildClipImageTower, buildClipTextTower } from "./src/encoders/clip_onnx_builder.ts";
export { ClipTokenizer, clipVocabulary } from "./src/encoders/clip_tokenizer.ts";
export {
  type ClipBpe,
  clipTokenizerJson,
  readClipTokenizer,
} from "./src/encoders/clip_tokenizer_files.ts";
export { type ModelFamily, modelFamily } from "./src/encoders/manifest.ts";
export * from "./src/encoders/embedding_cache.ts";
export * from "./src/encoders/embed_dataset.ts";
export * from "./src/encoders/skipped_inputs.ts";

// Evaluation
export * from "./src/metrics/retrieval_metrics.ts";
export * from "./src/metrics/evaluate.ts";
export * from "./src/metrics/ranks.ts";
export * from "./src/metrics/clinical.ts";
export * from "./src/metrics/screening.ts";
export * from "./src/eval/run_report.ts";
export { tsne, type TsneMetric, type TsneOptions, type TsneProgress } from "./src/eval/tsne.ts";
export * from "./src/eval/chart_render.ts";
export * from "./src/eval/chart_specs.ts";
export * from "./src/eval/tsne_panels.ts";
export * from "./src/eval/eval_report.ts";
export { metricsTable } from "./src/eval/metrics_table.ts";
export * from "./src/eval/evaluate_models.ts";
export * from "./src/eval/eval_inputs.ts";
export * from "./src/eval/eval_output.ts";
export * from "./src/eval/ablation.ts";
export * from "./src/eval/seed_stats.ts";
export * from "./src/eval/report_html.ts";

// GPU runtime and kernels
export * from "./src/gpu/context.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/ops/gemm.ts";
export * from "./src/ops/linear.ts";
export * from "./src/ops/gelu.ts";
export * from "./src/ops/dropout.ts";
export * from "./src/ops/l2norm.ts";
export * from "./src/ops/similarity.ts";
export * from "./src/ops/clip_loss.ts";
export * from "./src/ops/supcon.ts";
export * from "./src/ops/bce.ts";
export * from "./src/ops/gather.ts";
export * from "./src/ops/grad_norm.ts";
export * from "./src/ops/adamw.ts";
export * from "./src/ops/retrieval.ts";
export { Rng } from "./src/util/rng.ts";
