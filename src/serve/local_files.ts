/**
 * What the app serves under `/local/` for the page's private search (`local_search.ts`), all by
 * GET and none of it depending on a query:
 * - `/local/search.js`: the bundled script (`local_bundle.ts`);
 * - `/local/kernels`: the WGSL of `kernels/`, as `{ file: source }`;
 * - `/local/index`: the heads and the projected collection (`local_index.ts`);
 * - `/local/models/image.onnx`, `text.onnx`, `vocab.txt`: the weights folder's towers and
 *   vocabulary;
 * - `/local/ort/<file>`: onnxruntime-web's WASM runtime, from its npm package (nothing from a CDN).
 *
 * @module
 */

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { modelFamily, readManifest } from "../encoders/manifest.ts";
import { KERNEL_DIR, readKernelFile } from "../gpu/pipeline_cache.ts";
import type { CollectionSearch } from "../retrieval/search.ts";
import { bundleLocalSearch } from "./local_bundle.ts";
import { encodeLocalIndex } from "./local_index.ts";
import { RequestError } from "./upload.ts";

/** onnxruntime-web's runtime files the page may fetch (its loaders and their WASM). */
const ORT_FILE = /^ort-wasm-simd-threaded(\.(jsep|asyncify|jspi))?\.(mjs|wasm)$/;

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  wasm: "application/wasm",
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
};

/**
 * The handler of `/local/…` paths over `search`; `imageUrl` resolves to the function giving the
 * URL the app serves an image file at. Each document is made on its first request and kept; a path it does not serve throws
 * a 404 {@link RequestError}.
 * @example
 * ```ts
 * import { tryGetGpu } from "../gpu/context.ts";
 * import { trainDemoCollection } from "../retrieval/demo_collection.ts";
 * import { openSearch } from "../retrieval/search.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   await using search = await openSearch(demo);
 *   const local = localFiles(search, () => Promise.resolve(() => null));
 *   const kernels = await (await local("/local/kernels")).json();
 *   "similarity.wgsl" in kernels; // true
 *   await demo.remove();
 * }
 * ```
 */
export function localFiles(
  search: CollectionSearch,
  imageUrl: () => Promise<(path: string) => string | null>,
): (path: string) => Promise<Response> {
  const made = new Map<string, Promise<BodyInit>>();
  const once = (key: string, make: () => Promise<BodyInit>) => {
    let body = made.get(key);
    if (!body) {
      body = make();
      made.set(key, body);
      body.catch(() => made.delete(key)); // a failure is retried on the next request
    }
    return body;
  };
  const manifest = () => readManifest(search.info.weights);
  const model = async (file: string) => {
    const m = await manifest();
    const name = { "image.onnx": "image", "text.onnx": "text", "vocab.txt": "vocab" }[file];
    if (!name) throw new RequestError(404, `no model ${file}`);
    return await Deno.readFile(join(search.info.weights, m.files[name as "image"].path));
  };
  return async (path) => {
    const file = path.slice("/local/".length);
    const type = TYPES[file.split(".").at(-1) ?? ""] ?? "application/octet-stream";
    let body: BodyInit;
    if (file === "search.js") body = await once(file, bundleLocalSearch);
    else if (file === "kernels") {
      body = await once(file, async () => JSON.stringify(await kernelSources()));
    } else if (file === "index") {
      body = await once(file, async () => {
        const m = await manifest();
        if (modelFamily(m) !== "biomedclip") {
          throw new RequestError(
            501,
            `the private search runs BiomedCLIP's WordPiece towers; ${search.info.weights} ` +
              `holds ${modelFamily(m)} ones: search on the server`,
          );
        }
        const { contextLength, vocabSize } = m.config.text;
        const url = await imageUrl();
        return await encodeLocalIndex(search.projected, { contextLength, vocabSize }, url);
      });
    } else if (file.startsWith("models/")) body = await model(file.slice("models/".length));
    else if (file.startsWith("ort/") && ORT_FILE.test(file.slice(4))) {
      body = await once(file, () => Deno.readFile(join(ortDist(), file.slice(4))));
    } else throw new RequestError(404, `nothing at ${path}`);
    return new Response(body, {
      headers: { "content-type": type, "cache-control": "private, max-age=3600" },
    });
  };
}

/** Every `kernels/*.wgsl`, by file name. */
async function kernelSources(): Promise<Record<string, string>> {
  const sources: Record<string, string> = {};
  for await (const entry of Deno.readDir(KERNEL_DIR)) {
    if (entry.isFile && entry.name.endsWith(".wgsl")) {
      sources[entry.name] = readKernelFile(entry.name);
    }
  }
  return sources;
}

/** The folder of onnxruntime-web's runtime files in the npm cache. */
function ortDist(): string {
  return dirname(
    createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"),
  );
}
