/**
 * The frozen encoders' towers: BiomedCLIP's image and text towers, in batches, on the runtime
 * asked for (native onnxruntime, its WASM build or its WebGPU provider: `onnx_runtime.ts`). Each
 * checks, when its model is opened, that the model's inputs and outputs are the ones its tower
 * has (names, element types, ranks, fixed dims), and each checks its inputs' sizes before
 * running.
 *
 * This module and `onnx_runtime.ts` import nothing of Deno's or Node's at load time, so they
 * bundle for the page's private search (which opens the towers on `wasm` with the model bytes;
 * the bundle leaves onnxruntime-node out).
 *
 * @module
 */

import { IMAGE_IO, TEXT_IO } from "./biomedclip_config.ts";
import {
  type OnnxSession,
  openOnnxSession,
  type RuntimeName,
  type RuntimeOptions,
  type ValueMetadata,
} from "./onnx_runtime.ts";

/** Options shared by both encoders: the runtime and its threads, and the batch size. */
export interface EncoderOptions extends RuntimeOptions {
  /** Items per `session.run` (default 8). */
  batchSize?: number;
}

/** Expected signature of one model input or output. */
interface Expected {
  name: string;
  type: "float32" | "int64";
  /**
   * Per dim: a number (that fixed size), `"batch"` (must be dynamic), `"fixed"` (any fixed
   * size) or `"any"` (fixed or dynamic).
   */
  dims: (number | "batch" | "fixed" | "any")[];
}

/**
 * Checks the session's inputs and outputs against the tower's signature; returns the actual
 * shapes (-1 for a dynamic dim), in the order given. Throws one error naming every mismatch.
 */
function checkSignature(
  session: OnnxSession,
  tower: string,
  inputs: Expected[],
  outputs: Expected[],
): number[][] {
  const problems: string[] = [];
  const shapes: number[][] = [];
  const check = (
    kind: string,
    meta: readonly ValueMetadata[],
    e: Expected[],
  ) => {
    const names = meta.map((m) => m.name);
    const want = e.map((x) => x.name);
    if (names.length !== want.length || want.some((n) => !names.includes(n))) {
      problems.push(`${kind}s are [${names.join(", ")}], expected [${want.join(", ")}]`);
    }
    for (const x of e) {
      const m = meta.find((v) => v.name === x.name);
      if (!m) continue;
      if (!m.isTensor) {
        problems.push(`${kind} ${x.name} is not a tensor`);
        continue;
      }
      if (m.type !== x.type) problems.push(`${kind} ${x.name} is ${m.type}, expected ${x.type}`);
      const dims = m.shape;
      if (dims.length !== x.dims.length) {
        problems.push(
          `${kind} ${x.name} has rank ${dims.length} [${dims}], expected ` +
            `rank ${x.dims.length} [${x.dims}]`,
        );
        continue;
      }
      x.dims.forEach((d, i) => {
        const got = dims[i];
        if (d === "batch" && typeof got === "number") {
          problems.push(
            `${kind} ${x.name} dim ${i} is fixed at ${got}; a dynamic batch is expected`,
          );
        } else if (d !== "batch" && d !== "any" && typeof got !== "number") {
          problems.push(`${kind} ${x.name} dim ${i} is symbolic (${got}); expected a fixed size`);
        } else if (typeof d === "number" && got !== d) {
          problems.push(`${kind} ${x.name} dim ${i} is ${got}, expected ${d}`);
        }
      });
      shapes.push(dims.map((d) => typeof d === "number" ? d : -1));
    }
  };
  check("input", session.inputMetadata, inputs);
  check("output", session.outputMetadata, outputs);
  if (problems.length > 0) {
    throw new Error(`not a BiomedCLIP ${tower} tower:\n  ${problems.join("\n  ")}`);
  }
  return shapes;
}

function checkBatchSize(n: number | undefined): number {
  const b = n ?? 8;
  if (!Number.isInteger(b) || b < 1) throw new Error(`batchSize must be a positive int, got ${b}`);
  return b;
}

/**
 * The image tower: preprocessed NCHW float32 images in, unnormalized embeddings out.
 * @example
 * ```ts
 * // The committed demo tower (random weights, 128-d); `weights/` holds the real one once imported.
 * const enc = await ImageEncoder.create("weights/demo/biomedclip-image.onnx", { runtime: "auto" });
 * enc.runtime; // "native" where onnxruntime-node loads, else "wasm"
 * const pixels = new Float32Array(2 * 3 * enc.imageSize * enc.imageSize);
 * const emb = await enc.encode(pixels); // Float32Array of 2 * enc.embedDim
 * await enc.release();
 * ```
 */
export class ImageEncoder {
  /** Height = width of the input images. */
  readonly imageSize: number;
  /** Embedding size. */
  readonly embedDim: number;
  readonly #session: OnnxSession;
  readonly #batch: number;

  private constructor(session: OnnxSession, size: number, embed: number, batch: number) {
    this.#session = session;
    this.imageSize = size;
    this.embedDim = embed;
    this.#batch = batch;
  }

  /** Opens an image tower (file path or ONNX bytes) and checks its signature. */
  static async create(
    model: string | Uint8Array,
    opts: EncoderOptions = {},
  ): Promise<ImageEncoder> {
    const batch = checkBatchSize(opts.batchSize);
    const session = await openOnnxSession(model, opts);
    const [input, output] = checkSignature(
      session,
      "image",
      [{ name: IMAGE_IO.input, type: "float32", dims: ["batch", 3, "fixed", "fixed"] }],
      [{ name: IMAGE_IO.output, type: "float32", dims: ["batch", "fixed"] }],
    );
    if (input[2] !== input[3]) {
      throw new Error(`not a BiomedCLIP image tower: input is ${input[2]}x${input[3]}, not square`);
    }
    return new ImageEncoder(session, input[2], output[1], batch);
  }

  /**
   * Embeds N images given as one NCHW float32 array of N·3·S·S values (already resized,
   * cropped and normalized); returns N·embedDim values, row i for image i.
   */
  async encode(pixels: Float32Array): Promise<Float32Array> {
    const per = 3 * this.imageSize * this.imageSize;
    if (pixels.length % per !== 0) {
      throw new Error(
        `ImageEncoder.encode: ${pixels.length} values is not a whole number of ` +
          `3x${this.imageSize}x${this.imageSize} images (${per} values each)`,
      );
    }
    const n = pixels.length / per;
    const out = new Float32Array(n * this.embedDim);
    for (let start = 0; start < n; start += this.#batch) {
      const b = Math.min(this.#batch, n - start);
      const r = await this.#session.run({
        [IMAGE_IO.input]: {
          type: "float32",
          data: pixels.subarray(start * per, (start + b) * per),
          dims: [b, 3, this.imageSize, this.imageSize],
        },
      });
      out.set(r[IMAGE_IO.output], start * this.embedDim);
    }
    return out;
  }

  /** The runtime the tower runs on. */
  get runtime(): RuntimeName {
    return this.#session.runtime;
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}

/** Token ids or attention mask values, N rows of `contextLength`. */
export type TokenArray = Int32Array | BigInt64Array | ArrayLike<number>;

/**
 * The text tower: token ids and attention masks in, unnormalized embeddings out. Texts are
 * batched by length and each batch is cut after its longest text's last unmasked token (when the
 * model's sequence axis is dynamic, as the importer builds it); masked positions get zero
 * attention weight, so this changes no embedding, only the time.
 * @example
 * ```ts
 * const enc = await TextEncoder.create("weights/demo/biomedclip-text.onnx", {
 *   contextLength: 256,
 *   vocabSize: 230, // the demo vocabulary; BiomedCLIP's has 30522 tokens
 * });
 * const ids = new Int32Array(enc.contextLength), mask = new Int32Array(enc.contextLength);
 * ids.set([2, 189, 3]); // [CLS] no [SEP]
 * mask.set([1, 1, 1]);
 * const emb = await enc.encode(ids, mask); // Float32Array of enc.embedDim
 * await enc.release();
 * ```
 */
export class TextEncoder {
  /** Tokens per text row given to {@link encode}. */
  readonly contextLength: number;
  /** Embedding size. */
  readonly embedDim: number;
  /** Vocabulary size ids are checked against, when known. */
  readonly vocabSize?: number;
  readonly #session: OnnxSession;
  readonly #batch: number;
  /** True when the model takes any sequence length up to contextLength. */
  readonly #dynamic: boolean;

  private constructor(
    session: OnnxSession,
    shape: { context: number; embed: number; dynamic: boolean },
    batch: number,
    vocab?: number,
  ) {
    this.#session = session;
    this.contextLength = shape.context;
    this.embedDim = shape.embed;
    this.#dynamic = shape.dynamic;
    this.#batch = batch;
    this.vocabSize = vocab;
  }

  /**
   * Opens a text tower (file path or ONNX bytes) and checks its signature.
   * @param opts `contextLength`: tokens per row (required when the model's sequence axis is
   * dynamic, checked when it is fixed); `vocabSize`, when given, makes `encode` reject
   * out-of-range ids with a clear message instead of onnxruntime's Gather error
   */
  static async create(
    model: string | Uint8Array,
    opts: EncoderOptions & { contextLength?: number; vocabSize?: number } = {},
  ): Promise<TextEncoder> {
    const batch = checkBatchSize(opts.batchSize);
    const session = await openOnnxSession(model, opts);
    const [ids, mask, output] = checkSignature(
      session,
      "text",
      [
        { name: TEXT_IO.ids, type: "int64", dims: ["batch", "any"] },
        { name: TEXT_IO.mask, type: "int64", dims: ["batch", "any"] },
      ],
      [{ name: TEXT_IO.output, type: "float32", dims: ["batch", "fixed"] }],
    );
    if (ids[1] !== mask[1]) {
      throw new Error(
        `not a BiomedCLIP text tower: ${TEXT_IO.ids} has ${ids[1]} tokens, ` +
          `${TEXT_IO.mask} ${mask[1]}`,
      );
    }
    const dynamic = ids[1] === -1;
    const context = opts.contextLength ?? ids[1];
    if (dynamic && opts.contextLength === undefined) {
      throw new Error("text model has a dynamic sequence axis: pass contextLength (e.g. 256)");
    }
    if (!Number.isInteger(context) || context < 1 || (!dynamic && context !== ids[1])) {
      throw new Error(`contextLength ${context} does not fit the model's ${ids[1]} tokens`);
    }
    return new TextEncoder(session, { context, embed: output[1], dynamic }, batch, opts.vocabSize);
  }

  /**
   * Embeds N texts given as N·contextLength token ids and as many mask values (1 = token,
   * 0 = padding; each text's first token unmasked); returns N·embedDim values, row i for text i.
   */
  async encode(ids: TokenArray, mask: TokenArray): Promise<Float32Array> {
    const L = this.contextLength;
    if (ids.length % L !== 0 || mask.length !== ids.length) {
      throw new Error(
        `TextEncoder.encode: ${ids.length} ids and ${mask.length} mask values; expected the ` +
          `same whole number of rows of ${L} tokens`,
      );
    }
    const ids64 = toInt64(ids), mask64 = toInt64(mask);
    const n = ids64.length / L;
    const lengths = new Int32Array(n);
    for (let i = 0; i < ids64.length; i++) {
      const id = ids64[i], m = mask64[i], where = `text ${Math.floor(i / L)} token ${i % L}`;
      if (id < 0n || (this.vocabSize !== undefined && id >= BigInt(this.vocabSize))) {
        throw new Error(
          `TextEncoder.encode: ${where}: id ${id} ` +
            `outside the vocabulary [0, ${this.vocabSize ?? "?"})`,
        );
      }
      if (m !== 0n && m !== 1n) {
        throw new Error(`TextEncoder.encode: ${where}: attention mask ${m}, expected 0 or 1`);
      }
      if (i % L === 0 && m !== 1n) {
        throw new Error(`TextEncoder.encode: ${where}: the first token must be unmasked`);
      }
      if (m === 1n) lengths[Math.floor(i / L)] = (i % L) + 1;
    }
    // Longest first, so each batch is cut to the length of its first text.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a]);
    const out = new Float32Array(n * this.embedDim);
    for (let start = 0; start < n; start += this.#batch) {
      const rows = order.slice(start, start + this.#batch);
      const seq = this.#dynamic ? lengths[rows[0]] : L;
      const gather = (src: BigInt64Array) => {
        const dst = new BigInt64Array(rows.length * seq);
        rows.forEach((r, k) => dst.set(src.subarray(r * L, r * L + seq), k * seq));
        return { type: "int64" as const, data: dst, dims: [rows.length, seq] };
      };
      const r = await this.#session.run({
        [TEXT_IO.ids]: gather(ids64),
        [TEXT_IO.mask]: gather(mask64),
      });
      const emb = r[TEXT_IO.output], E = this.embedDim;
      rows.forEach((row, k) => out.set(emb.subarray(k * E, (k + 1) * E), row * E));
    }
    return out;
  }

  /** The runtime the tower runs on. */
  get runtime(): RuntimeName {
    return this.#session.runtime;
  }

  /** Frees the session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}

function toInt64(a: TokenArray): BigInt64Array {
  if (a instanceof BigInt64Array) return a;
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isInteger(v)) throw new Error(`token value ${v} at ${i} is not an integer`);
    out[i] = BigInt(v);
  }
  return out;
}
