/**
 * The page's private search as one browser script: `local_search.ts` and everything it imports
 * (onnxruntime-web's browser build, image decoding, the tokenizer, the GPU layer and ops), bundled
 * by `deno bundle` once per server process, on the first request for it.
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";

const ENTRY = new URL("./local_search.ts", import.meta.url);
const CONFIG = new URL("../../deno.json", import.meta.url);

/**
 * Bundles `local_search.ts` for the browser with the Deno running this process; throws with
 * `deno bundle`'s own message when it fails (e.g. the sources are not local files).
 * @example
 * ```ts
 * const script = await bundleLocalSearch(); // a few seconds
 * script.includes("openLocalSearch"); // true
 * ```
 */
export async function bundleLocalSearch(): Promise<string> {
  if (ENTRY.protocol !== "file:") {
    throw new Error(`the private search is bundled from local sources, not ${ENTRY.href}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "cxr-bundle-" });
  try {
    const out = `${dir}/search.js`;
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--minify",
        // The page runs the towers on WASM: the native addon and the WebGPU build stay out.
        "--external=onnxruntime-node",
        "--external=onnxruntime-web/webgpu",
        `--config=${fromFileUrl(CONFIG)}`,
        `--output=${out}`,
        fromFileUrl(ENTRY),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(
        `deno bundle ${fromFileUrl(ENTRY)} failed: ${new TextDecoder().decode(stderr)}`,
      );
    }
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
