/**
 * A Web Worker holding a second onnxruntime runtime for bench/encoders_bench.ts: onnxruntime-web
 * fixes its WASM thread count per module instance, so a bench that compares 1 thread with all of
 * them runs one of the two here. Messages: `{ open }` opens both towers, `{ inputs }` stores the
 * bench's inputs, `{ run: tower }` embeds them once; each is answered `{}` or `{ error }`.
 *
 * @module
 */

import { ImageEncoder, TextEncoder } from "../../src/encoders/encoders.ts";
import type { RuntimeOptions } from "../../src/encoders/onnx_runtime.ts";

/** What the bench sends. */
type Message =
  | {
    open: RuntimeOptions & {
      image: string;
      text: string;
      batchSize: number;
      contextLength: number;
    };
  }
  | { inputs: { pixels: Float32Array; ids: Int32Array; mask: Int32Array; shortMask: Int32Array } }
  | { run: "image" | "text" | "text_short" };

/** The worker's global scope, as much of it as is used here. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Message>) => void) | null;
  postMessage(message: { error?: string }): void;
};

let towers: { image: ImageEncoder; text: TextEncoder } | undefined;
let inputs: Extract<Message, { inputs: unknown }>["inputs"] | undefined;

async function handle(m: Message): Promise<void> {
  if ("open" in m) {
    const { image, text, contextLength, ...opts } = m.open;
    towers = {
      image: await ImageEncoder.create(image, opts),
      text: await TextEncoder.create(text, { ...opts, contextLength }),
    };
  } else if ("inputs" in m) inputs = m.inputs;
  else if (!towers || !inputs) throw new Error("encoder worker: run before open and inputs");
  else if (m.run === "image") await towers.image.encode(inputs.pixels);
  else await towers.text.encode(inputs.ids, m.run === "text" ? inputs.mask : inputs.shortMask);
}

scope.onmessage = (e) => {
  handle(e.data).then(
    () => scope.postMessage({}),
    (err) => scope.postMessage({ error: String((err as Error)?.stack ?? err) }),
  );
};
