/**
 * `deno task synthetic`: writes the SYNTHETIC demo set (PNG images + `manifest.jsonl`) and,
 * with `--sheet`, a contact sheet of the first 16 images to look at.
 *
 * ```sh
 * deno task synthetic --count 1000 --seed 1 --out data/synthetic --size 224 --sheet /tmp/sheet.png
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { decodePng, encodePng, Image } from "image-js";
import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";

/**
 * Tiles grayscale PNG files (all the same size) into one PNG, `cols` per row.
 * @example
 * ```ts
 * import { generateSyntheticCxr } from "../data/synthetic_cxr.ts";
 * const dir = await Deno.makeTempDir();
 * const { records } = await generateSyntheticCxr({ count: 4, seed: 1, outDir: dir, size: 32 });
 * const sheet = contactSheet(records.map((r) => r.imagePaths[0]), 2); // a 64×64 PNG
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function contactSheet(paths: readonly string[], cols: number): Uint8Array {
  const images = paths.map((p) => decodePng(Deno.readFileSync(p)).convertColor("GREY"));
  const { width: w, height: h } = images[0];
  const rows = Math.ceil(images.length / cols);
  const data = new Uint8Array(w * cols * h * rows);
  images.forEach((im, k) => {
    const raw = im.getRawImage().data;
    const x0 = (k % cols) * w, y0 = Math.floor(k / cols) * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data[(y0 + y) * w * cols + x0 + x] = raw[y * w + x];
    }
  });
  return encodePng(new Image(w * cols, h * rows, { colorModel: "GREY", data }));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      count: { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
      out: { type: "string", default: "data/synthetic" },
      size: { type: "string", default: "224" },
      workers: { type: "string" },
      sheet: { type: "string" },
    },
  });
  const start = performance.now();
  const { records } = await generateSyntheticCxr({
    count: Number(values.count),
    seed: Number(values.seed),
    outDir: values.out,
    size: Number(values.size),
    workers: values.workers === undefined ? undefined : Number(values.workers),
  });
  const seconds = (performance.now() - start) / 1000;
  const normal = records.filter((r) => r.label === 0).length;
  console.log(
    `synthetic: ${records.length} studies (${normal} normal) in ${values.out} ` +
      `(${seconds.toFixed(1)} s, ${(records.length / seconds).toFixed(0)} images/s)`,
  );
  if (values.sheet) {
    await Deno.writeFile(
      values.sheet,
      contactSheet(records.slice(0, 16).map((r) => r.imagePaths[0]), 4),
    );
    console.log(`contact sheet: ${values.sheet}`);
  }
}
