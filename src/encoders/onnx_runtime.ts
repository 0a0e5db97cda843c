/**
 * Where the encoders' ONNX graphs run: one session interface over three onnxruntime builds.
 *
 * - `native`: `npm:onnxruntime-node`, ONNX Runtime's C++ CPU build loaded as a Node addon
 *   (Deno needs `--allow-ffi`; the tasks run with `-A`). Its package carries the libraries of
 *   every platform (about 290 MB in Deno's npm cache); its install script, which would fetch CUDA
 *   files, does not run under Deno, so only the CPU provider is used.
 * - `wasm`: `npm:onnxruntime-web`'s WASM build: portable (browsers, machines where the addon
 *   cannot load). Deno resolves it through the "node" export condition to `ort.node.min.mjs`,
 *   whose Emscripten loader reads `ort-wasm-simd-threaded.wasm` from the package folder. N threads
 *   are the calling thread plus N-1 pthreads on `node:worker_threads` sharing one heap, which is
 *   created at its full size ({@link withSizedWasmHeap}). The thread count is read once, when the
 *   first session starts the runtime, so every WASM session of a process shares it.
 * - `webgpu`: `onnxruntime-web/webgpu`'s WebGPU execution provider on Deno's `navigator.gpu` (the
 *   default import resolves to the Node build, which has no WebGPU backend). It runs with one
 *   WASM thread: the work is on the GPU.
 * - `auto`: `native` where it loads, else `wasm`.
 *
 * @module
 */

import * as ortWeb from "onnxruntime-web";
import { withSizedWasmHeap } from "./wasm_heap.ts";

/** A runtime to ask for; `auto` is `native` where it loads, else `wasm`. */
export type EncoderRuntime = "auto" | "native" | "wasm" | "webgpu";

/** The runtimes a session can run on. */
export type RuntimeName = Exclude<EncoderRuntime, "auto">;

/**
 * Every value of {@link EncoderRuntime}, for flag parsing.
 * @example
 * ```ts
 * ENCODER_RUNTIMES.includes("native"); // true
 * ```
 */
export const ENCODER_RUNTIMES: readonly EncoderRuntime[] = ["auto", "native", "wasm", "webgpu"];

/**
 * Reads a `--encoder-runtime` value; the error names the flag and the values allowed.
 * @example
 * ```ts
 * parseEncoderRuntime("wasm"); // "wasm"
 * ```
 */
export function parseEncoderRuntime(value: string, flag = "--encoder-runtime"): EncoderRuntime {
  if (!(ENCODER_RUNTIMES as readonly string[]).includes(value)) {
    throw new Error(`${flag}: expected one of ${ENCODER_RUNTIMES.join(", ")}, got "${value}"`);
  }
  return value as EncoderRuntime;
}

/** Name, element type and shape (numbers, or names of dynamic dims) of a model input or output. */
export type ValueMetadata = ortWeb.InferenceSession.ValueMetadata;

/** An input tensor: element type, values and shape. */
export interface TensorInput {
  /** Element type. */
  type: "float32" | "int64";
  /** Values, row-major. */
  data: Float32Array | BigInt64Array;
  /** Shape. */
  dims: number[];
}

/** An open model on one runtime. */
export interface OnnxSession {
  /** The runtime it runs on. */
  readonly runtime: RuntimeName;
  /** Inputs the model declares. */
  readonly inputMetadata: readonly ValueMetadata[];
  /** Outputs the model declares. */
  readonly outputMetadata: readonly ValueMetadata[];
  /** Runs the model; returns each float32 output's values. */
  run(feeds: Record<string, TensorInput>): Promise<Record<string, Float32Array>>;
  /** Frees the session. */
  release(): Promise<void>;
}

/** How to open a session. */
export interface RuntimeOptions {
  /** The runtime (default `auto`). */
  runtime?: EncoderRuntime;
  /**
   * CPU threads (default: every core, `navigator.hardwareConcurrency`). For `wasm` the first
   * session of the process fixes it; `webgpu` always uses one.
   */
  numThreads?: number;
}

/** The subset of an onnxruntime package this module uses (web and node share the API). */
interface OrtModule {
  InferenceSession: {
    create(
      model: string | Uint8Array,
      options: Record<string, unknown>,
    ): Promise<ortWeb.InferenceSession>;
  };
  Tensor: new (
    type: "float32" | "int64",
    data: Float32Array | BigInt64Array,
    dims: number[],
  ) => ortWeb.Tensor;
}

let nativeModule: Promise<OrtModule> | undefined;
let webgpuModule: Promise<OrtModule> | undefined;
let wasmThreads: number | undefined;

/** onnxruntime-node, imported once; rejects with the reason when it cannot load here. */
function loadNative(): Promise<OrtModule> {
  nativeModule ??= import("onnxruntime-node").then(
    (m) => (m.default ?? m) as unknown as OrtModule,
  );
  return nativeModule;
}

/**
 * Which runtime `auto` picks in this process: `native` when onnxruntime-node loads, else `wasm`,
 * with the reason the native runtime did not load.
 * @example
 * ```ts
 * const { runtime, reason } = await resolveRuntime("auto");
 * console.log(runtime, reason ?? ""); // "native" under `deno run -A` on Linux, macOS or Windows
 * ```
 */
export async function resolveRuntime(
  runtime: EncoderRuntime = "auto",
): Promise<{ runtime: RuntimeName; reason?: string }> {
  if (runtime !== "auto") return { runtime };
  try {
    await loadNative();
    return { runtime: "native" };
  } catch (e) {
    return { runtime: "wasm", reason: `onnxruntime-node did not load: ${(e as Error).message}` };
  }
}

function checkThreads(n: number | undefined): number {
  const threads = n ?? navigator.hardwareConcurrency;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`numThreads must be a positive integer, got ${threads}`);
  }
  return threads;
}

/** The module and session options of `runtime`, starting the WASM runtime on first use. */
async function prepare(
  runtime: RuntimeName,
  threads: number,
): Promise<{ ort: OrtModule; options: Record<string, unknown>; starting: boolean }> {
  const base = { graphOptimizationLevel: "all" };
  if (runtime === "native") {
    const ort = await loadNative().catch((e) => {
      throw new Error(
        `--encoder-runtime native: onnxruntime-node does not load here (${
          (e as Error).message
        }); ` +
          "it needs --allow-ffi and a platform its package ships (use wasm elsewhere)",
      );
    });
    return {
      ort,
      options: {
        ...base,
        executionProviders: ["cpu"],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
      },
      starting: false,
    };
  }
  if (runtime === "webgpu") {
    if (!("gpu" in navigator) || !(await navigator.gpu.requestAdapter())) {
      throw new Error("--encoder-runtime webgpu: no WebGPU adapter in this process");
    }
    webgpuModule ??= import("onnxruntime-web/webgpu").then((m) => {
      m.env.wasm.numThreads = 1;
      return m as unknown as OrtModule;
    });
    return {
      ort: await webgpuModule,
      // Warnings only say that shape ops run on the CPU, as ORT places them on purpose.
      options: { ...base, executionProviders: ["webgpu"], logSeverityLevel: 3 },
      starting: false,
    };
  }
  const starting = wasmThreads === undefined;
  if (starting) {
    ortWeb.env.wasm.numThreads = threads;
    wasmThreads = threads;
  } else if (threads !== wasmThreads) {
    throw new Error(
      `onnxruntime-web already runs with ${wasmThreads} WASM thread(s) in this process; ` +
        `it cannot switch to ${threads} (the thread count is fixed when the runtime starts)`,
    );
  }
  return {
    ort: ortWeb as unknown as OrtModule,
    options: { ...base, executionProviders: ["wasm"] },
    starting: starting && threads > 1,
  };
}

/**
 * Opens an ONNX model (file path or bytes) on the runtime asked for (see the module doc).
 * @example
 * ```ts
 * const s = await openOnnxSession("weights/demo/biomedclip-image.onnx", { runtime: "wasm" });
 * const pixels = new Float32Array(3 * 224 * 224);
 * const out = await s.run({
 *   pixel_values: { type: "float32", data: pixels, dims: [1, 3, 224, 224] },
 * });
 * out.image_embeds.length; // 128, the demo tower's embedding size
 * await s.release();
 * ```
 */
export async function openOnnxSession(
  model: string | Uint8Array,
  opts: RuntimeOptions = {},
): Promise<OnnxSession> {
  const threads = checkThreads(opts.numThreads);
  const { runtime } = await resolveRuntime(opts.runtime);
  const { ort, options, starting } = await prepare(runtime, threads);
  const what = typeof model === "string" ? model : "ONNX model";
  let session: ortWeb.InferenceSession;
  try {
    // The native runtime reads a path itself; onnxruntime-web is given the bytes.
    const input = runtime !== "native" && typeof model === "string"
      ? await Deno.readFile(model)
      : model;
    const create = () => ort.InferenceSession.create(input, options);
    session = await (starting ? withSizedWasmHeap(create) : create());
  } catch (e) {
    throw new Error(`${what}: onnxruntime (${runtime}) cannot load it: ${(e as Error).message}`);
  }
  return {
    runtime,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    async run(feeds) {
      const tensors = Object.fromEntries(
        Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type, t.data, t.dims)]),
      );
      const results = await session.run(tensors);
      const out: Record<string, Float32Array> = {};
      for (const [k, t] of Object.entries(results)) {
        if (t.type !== "float32") throw new Error(`${what}: output ${k} is ${t.type}, not float32`);
        out[k] = (t.location === "cpu" ? t.data : await t.getData(true)) as Float32Array;
        t.dispose();
      }
      return out;
    },
    release: () => session.release(),
  };
}
