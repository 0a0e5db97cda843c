/**
 * preprocessImage against open_clip's pipeline as torchvision 0.14 + Pillow 9.4 compute it
 * (fixtures written by tests/oracle/preprocess_oracle.py).
 *
 * Tolerances:
 * - PNG: none. Decoding is lossless and the resize reproduces Pillow's integer arithmetic, so
 *   the uint8 crop must equal Pillow's byte for byte and the tensor torch's float for float.
 * - JPEG: Pillow decodes with libjpeg-turbo, image-js with jpeg-js. They differ in the IDCT and
 *   colour-conversion rounding (a few grey levels) and, for chroma-subsampled (4:2:0) files, in
 *   chroma upsampling: libjpeg-turbo interpolates ("fancy upsampling"), jpeg-js replicates, so
 *   colours differ by up to ~20 levels along sharp colour edges. Per image: max and mean
 *   absolute difference of the uint8 crop in grey levels, and the tensor samples within
 *   max levels / (255 · min std).
 */

import assert from "node:assert/strict";
import { decode as decodePng } from "fast-png";
import {
  CLIP_STD,
  preprocessImage,
  preprocessImageFile,
  preprocessImageToRgb,
  rgbToTensor,
} from "../src/encoders/preprocess_image.ts";
import { assertClose } from "./util/check.ts";
import { sharedDataPath } from "./util/shared_data.ts";

interface Expected {
  size: number;
  pil_mode: string;
  source_size: [number, number];
  sample_index: number[];
  sample_value: number[];
  channel_mean: number[];
  channel_std: number[];
}

const FIX = "tests/fixtures";
const doc = JSON.parse(await Deno.readTextFile(`${FIX}/preprocess_expected.json`)) as {
  normalize_lut: number[][];
  images: Record<string, Expected>;
  nih_rgb_sha256: Record<string, string>;
};
const NIH = sharedDataPath("nih-cxr-1000", "NIH image checks");

/** JPEG tolerances in grey levels of the uint8 crop (see the module doc). */
const JPEG_TOLERANCE: Record<string, { max: number; mean: number }> = {
  "baseline420.jpg": { max: 20, mean: 1.5 },
  "progressive420.jpg": { max: 20, mean: 1.5 },
  "baseline444.jpg": { max: 4, mean: 0.6 },
  "progressive_gray.jpg": { max: 4, mean: 0.2 },
};

function inputPath(name: string): string | null {
  if (!name.startsWith("nih:")) return `${FIX}/images/${name}`;
  return NIH && `${NIH}/${name.slice(4)}`;
}

function expectedRgb(name: string): Uint8Array {
  const png = decodePng(
    Deno.readFileSync(`${FIX}/images/expected/${name.replace(/\.\w+$/, ".png")}`),
  );
  assert.deepEqual(png.channels, 3);
  return png.data as Uint8Array;
}

function checkTensor(t: Float32Array, e: Expected, atol: number, label: string) {
  assert.deepEqual(t.length, 3 * e.size * e.size);
  const got = e.sample_index.map((i) => t[i]);
  assertClose(got, e.sample_value, { atol, rtol: 0 }, `${label} tensor samples`);
  const plane = e.size * e.size;
  for (let c = 0; c < 3; c++) {
    let s = 0, s2 = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) s += t[i];
    const mean = s / plane;
    for (let i = c * plane; i < (c + 1) * plane; i++) s2 += (t[i] - mean) ** 2;
    assertClose([mean, Math.sqrt(s2 / plane)], [e.channel_mean[c], e.channel_std[c]], {
      atol: atol + 1e-6,
      rtol: 0,
    }, `${label} channel ${c} mean/std`);
  }
}

Deno.test("rgbToTensor equals torch ToTensor + Normalize for every uint8 value", () => {
  const ramp = new Uint8Array(256 * 3).map((_, i) => Math.floor(i / 3));
  const t = rgbToTensor({ width: 256, height: 1, data: ramp });
  for (let c = 0; c < 3; c++) {
    assertClose(
      t.subarray(c * 256, (c + 1) * 256),
      doc.normalize_lut[c],
      { atol: 0, rtol: 0 },
      `channel ${c}`,
    );
  }
});

for (const [name, e] of Object.entries(doc.images)) {
  const path = inputPath(name);
  const jpeg = name.endsWith(".jpg");
  Deno.test({
    name:
      `preprocess ${name} (Pillow mode ${e.pil_mode}, ${e.source_size.join("x")} -> ${e.size}) ` +
      (jpeg ? "within the JPEG tolerance" : "equals torchvision exactly"),
    ignore: path === null,
    fn: () => {
      const bytes = Deno.readFileSync(path!);
      const rgb = preprocessImageToRgb(bytes, { size: e.size, name });
      assert.deepEqual([rgb.width, rgb.height], [e.size, e.size]);
      const t = preprocessImage(bytes, { size: e.size, name });
      if (name.startsWith("nih:")) return checkTensor(t, e, 0, name);
      const want = expectedRgb(name);
      if (!jpeg) {
        assertClose(rgb.data, want, { atol: 0, rtol: 0 }, `${name} uint8 crop`);
        return checkTensor(t, e, 0, name);
      }
      const tol = JPEG_TOLERANCE[name];
      let max = 0, sum = 0;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(rgb.data[i] - want[i]);
        max = Math.max(max, d);
        sum += d;
      }
      const mean = sum / want.length;
      assert(
        max <= tol.max && mean <= tol.mean,
        `${name}: max ${max} mean ${mean.toFixed(3)} levels`,
      );
      checkTensor(t, e, tol.max / 255 / Math.min(...CLIP_STD), name);
    },
  });
}

async function sha256Prefix(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest.subarray(0, 8), (v) => v.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "all 1,000 NIH PNGs: uint8 crop equals torchvision's (SHA-256)",
  ignore: NIH === null,
  fn: async () => {
    const wrong: string[] = [];
    for (const [rel, hash] of Object.entries(doc.nih_rgb_sha256)) {
      const rgb = preprocessImageToRgb(await Deno.readFile(`${NIH}/${rel}`), { name: rel });
      if (await sha256Prefix(rgb.data) !== hash) wrong.push(rel);
    }
    assert.deepEqual(wrong, [], `${wrong.length} of 1000 differ`);
  },
});

Deno.test("preprocessImageFile equals preprocessImage and names the file in errors", async () => {
  const path = `${FIX}/images/rgba8.png`;
  const a = await preprocessImageFile(path, { size: 64 });
  const b = preprocessImage(await Deno.readFile(path), { size: 64 });
  assert.deepEqual(a, b);
  await assert.rejects(
    preprocessImageFile(`${FIX}/images/missing.png`),
    /missing\.png: cannot read/,
  );
});

Deno.test("bad input: clear errors naming the image", () => {
  const png = Deno.readFileSync(`${FIX}/images/rgb16.png`);
  const jpg = Deno.readFileSync(`${FIX}/images/baseline444.jpg`);
  const name = "x.img";
  assert.throws(
    () => preprocessImage(new Uint8Array(0), { name }),
    /x\.img: not a PNG or JPEG image \(first bytes: none/,
  );
  assert.throws(
    () => preprocessImage(new TextEncoder().encode("GIF89a......"), { name }),
    /x\.img: not a PNG or JPEG image \(first bytes: 47 49 46 38/,
  );
  assert.throws(() => preprocessImage(png.slice(0, 60), { name }), /x\.img: corrupt PNG/);
  // a header claiming 100000 x 100000 pixels is refused before anything is decoded
  const huge = png.slice(0, 33);
  new DataView(huge.buffer).setUint32(16, 100000);
  new DataView(huge.buffer).setUint32(20, 100000);
  assert.throws(
    () => preprocessImage(huge, { name }),
    /x\.img: 100000x100000 = 10000000000 pixels exceeds the limit of 89478485/,
  );
  assert.throws(
    () => preprocessImage(png, { name, maxPixels: 1000 }),
    /50x70 = 3500 pixels exceeds the limit of 1000/,
  );
  // the frame header of baseline444.jpg patched to 4 components (CMYK)
  const cmyk = jpg.slice();
  const sof = cmyk.findIndex((v, i) => v === 0xff && cmyk[i + 1] === 0xc0);
  cmyk[sof + 9] = 4;
  assert.throws(
    () => preprocessImage(cmyk, { name }),
    /x\.img: JPEG with 4 components \(CMYK\/YCCK\) is not supported/,
  );
  assert.throws(
    () => preprocessImage(jpg.slice(0, 20), { name }),
    /x\.img: corrupt JPEG: no frame header/,
  );
  assert.throws(
    () => preprocessImage(png, { name, size: 0 }),
    /x\.img: size must be an integer >= 1, got 0/,
  );
});
