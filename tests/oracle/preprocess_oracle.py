#!/usr/bin/python3
"""Oracle for src/encoders/preprocess_image.ts: open_clip's inference image pipeline run by
Debian's torchvision + PIL (Pillow 9.4, libjpeg-turbo).

open_clip (transform.py, resize_mode "shortest") builds, for an image size S:
    Resize(S, interpolation=BICUBIC), CenterCrop(S), _convert_to_rgb, ToTensor(),
    Normalize(OPENAI_DATASET_MEAN, OPENAI_DATASET_STD)
where _convert_to_rgb is `image.convert("RGB")`. open_clip itself is not installed here, so this
script composes the same torchvision transforms in the same order.

Writes (run from the repository root: /usr/bin/python3 tests/oracle/preprocess_oracle.py):
  tests/fixtures/images/<name>.{png,jpg}      generated inputs (small)
  tests/fixtures/images/expected/<name>.png   the RGB uint8 crop PIL produced (lossless)
  tests/fixtures/preprocess_expected.json     ToTensor + Normalize of every uint8 value per channel;
                                              per image: PIL mode, size, sampled float32 values
                                              of the final tensor and per-channel mean/std;
                                              for all 1,000 NIH images (when ../shared/data
                                              exists): SHA-256 (first 16 hex digits) of the
                                              uint8 RGB crop.
"""

import glob
import hashlib
import json
import os
import re
import subprocess
import struct
import zlib

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
IMG = os.path.join(FIX, "images")
EXP = os.path.join(IMG, "expected")
NIH = os.path.join(ROOT, "..", "shared", "data", "nih-cxr-1000")
SAMPLES = 64


def crop_rgb(im, size):
    """open_clip's pipeline up to and including convert("RGB")."""
    return T.Compose(
        [
            T.Resize(size, interpolation=InterpolationMode.BICUBIC),
            T.CenterCrop(size),
            lambda x: x.convert("RGB"),
        ]
    )(im)


def to_tensor(rgb):
    return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])(rgb)


def write_png(path, arr, color_type, bit_depth):
    """Minimal PNG writer (PIL cannot write 16-bit RGB/RGBA/LA): filter 0 on every row."""
    h, w = arr.shape[:2]
    if bit_depth < 8:  # one channel, rows packed MSB first and padded to a byte
        bits = np.unpackbits(arr.astype(np.uint8)[..., None], axis=-1)[..., 8 - bit_depth :]
        arr = np.packbits(bits.reshape(h, -1), axis=1)
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = arr.astype(dtype).reshape(h, -1).tobytes()
    stride = len(raw) // h
    rows = b"".join(b"\x00" + raw[y * stride : (y + 1) * stride] for y in range(h))

    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9))
    with open(path, "wb") as f:
        f.write(png + chunk(b"IEND", b""))


def smooth(h, w, seed, channels):
    """Smooth colourful content with a few hard edges (compresses well, exercises all taps)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for c in range(channels):
        fx, fy, ph = rng.uniform(2, 9), rng.uniform(2, 9), rng.uniform(0, 6.28)
        v = 0.5 + 0.35 * np.sin(fx * x / w * 6.28 + ph) * np.cos(fy * y / h * 6.28)
        v += 0.15 * ((x // max(w // 7, 1) + y // max(h // 5, 1) + c) % 2)
        out.append(v)
    return np.clip(np.stack(out, -1), 0, 1)


def xray_like(w, h):
    """An NIH radiograph upscaled and tinted (falls back to synthetic content without data)."""
    files = sorted(glob.glob(os.path.join(NIH, "test", "1_abnormal", "*.png")))
    if not files:
        return (smooth(h, w, 7, 3) * 255).round().astype(np.uint8)
    base = Image.open(files[0]).convert("RGB").resize((w, h), Image.BICUBIC)
    a = np.asarray(base).astype(np.float64)
    tint = smooth(h, w, 8, 3)
    return np.clip(a * (0.6 + 0.4 * tint), 0, 255).round().astype(np.uint8)


def generate():
    """Writes the generated inputs; returns [(file name, image size S)]."""
    os.makedirs(EXP, exist_ok=True)
    out = []

    def png(name, arr, color_type, depth, size):
        write_png(os.path.join(IMG, name), arr, color_type, depth)
        out.append((name, size))

    def pil(name, im, size, **kw):
        im.save(os.path.join(IMG, name), **kw)
        out.append((name, size))

    rng = np.random.default_rng(1)
    # 16-bit grayscale: PIL opens it as mode "I" (32-bit ints) and resizes in 32-bit; convert("RGB")
    # then clips every value above 255 to 255. One image spans 0..700 (part clipped, part not),
    # one the full 0..65535 range.
    g = smooth(53, 71, 1, 1)[..., 0]
    png("gray16_low.png", (g * 700).round(), 0, 16, 64)
    png("gray16_full.png", (g * 65535).round(), 0, 16, 224)
    png("gray8.png", (smooth(80, 61, 2, 1)[..., 0] * 255).round(), 0, 8, 48)
    png("gray2.png", (smooth(41, 29, 14, 1)[..., 0] * 3).round(), 0, 2, 40)  # PIL "L", 0/85/170/255
    # grayscale + alpha, 8-bit (PIL "LA", resized premultiplied as "La") and 16-bit (PIL opens it
    # as "RGBA" from the high bytes, resized premultiplied as "RGBa").
    la = np.concatenate([smooth(45, 67, 3, 1), smooth(45, 67, 4, 1)], -1)
    la[:10, :20, 1] = 0  # fully transparent corner: colour kept (RGBA) or zeroed (LA)
    png("gray_alpha8.png", (la * 255).round(), 4, 8, 64)
    la16 = np.clip((la * 65535).round() + rng.integers(0, 256, la.shape), 0, 65535)
    png("gray_alpha16.png", la16, 4, 16, 64)
    rgba = smooth(60, 90, 5, 4)
    rgba[..., 3] = np.where(rgba[..., 3] < 0.3, 0.0, rgba[..., 3])
    rgba[30:, :, 3] = 1.0
    png("rgba8.png", (rgba * 255).round(), 6, 8, 96)
    png("rgba16.png", (rgba * 65535).round(), 6, 16, 64)
    png("rgb16.png", (smooth(70, 50, 6, 3) * 65535).round(), 2, 16, 64)
    # palette and 1-bit images: PIL resizes modes "P" and "1" with NEAREST whatever was asked.
    pal = Image.fromarray((smooth(33, 47, 9, 3) * 255).round().astype(np.uint8)).quantize(16)
    pil("palette.png", pal, 80)
    pil("palette_trns.png", pal, 64, transparency=3)
    pil("bilevel.png", Image.fromarray(smooth(40, 30, 10, 1)[..., 0] > 0.5), 72)
    # JPEG: libjpeg-turbo (PIL) versus jpeg-js (image-js): baseline 4:2:0, progressive 4:2:0,
    # baseline 4:4:4, progressive grayscale.
    photo = xray_like(150, 120)
    pil("baseline420.jpg", Image.fromarray(photo), 224, quality=90, subsampling=2)
    pil("progressive420.jpg", Image.fromarray(photo), 224, quality=90, progressive=True)
    pil("baseline444.jpg", Image.fromarray(photo), 96, quality=95, subsampling=0)
    gray = Image.fromarray(photo).convert("L")
    pil("progressive_gray.jpg", gray, 96, quality=90, progressive=True)
    # geometry: tall image with an odd crop remainder (round-half-even offset), an image whose
    # short side already equals S (torchvision skips the resize), a large non-square image
    # (strong downsampling, 37 taps per output pixel).
    png("tall_rgb.png", (smooth(99, 37, 11, 3) * 255).round(), 2, 8, 56)
    png("short_side_equal.png", (smooth(64, 90, 12, 3) * 255).round(), 2, 8, 64)
    y, x = np.mgrid[0:1201, 0:1999]
    large = np.stack(
        [
            x * 255 // 1999 + 40 * ((x // 97 + y // 61) % 2),
            y * 255 // 1201,
            (x + y) * 255 // 3200 + 60 * (((x - 600) ** 2 + (y - 500) ** 2) < 300**2),
        ],
        -1,
    )
    pil("large_rgb.png", Image.fromarray(np.clip(large, 0, 255).astype(np.uint8)), 224, optimize=True)
    return out


def record(path, size, sample_rng):
    im = Image.open(path)
    mode = im.mode
    rgb = crop_rgb(im, size)
    t = to_tensor(rgb)
    assert t.dtype == torch.float32 and tuple(t.shape) == (3, size, size)
    idx = sample_rng.integers(0, 3 * size * size, SAMPLES)
    flat = t.numpy().reshape(-1)
    t64 = t.numpy().astype(np.float64).reshape(3, -1)
    return rgb, {
        "size": size,
        "pil_mode": mode,
        "source_size": list(im.size),
        "sample_index": [int(i) for i in idx],
        "sample_value": [float(flat[i]) for i in idx],
        "channel_mean": t64.mean(1).tolist(),
        "channel_std": t64.std(1).tolist(),
    }


def main():
    os.makedirs(IMG, exist_ok=True)
    sample_rng = np.random.default_rng(0)
    images = {}
    for name, size in generate():
        rgb, rec = record(os.path.join(IMG, name), size, sample_rng)
        rgb.save(os.path.join(EXP, os.path.splitext(name)[0] + ".png"))
        images[name] = rec
    nih = {}
    nih_files = sorted(glob.glob(os.path.join(NIH, "*", "*", "*.png")))
    for i, path in enumerate(nih_files):
        rel = os.path.relpath(path, NIH)
        rgb, rec = record(path, 224, sample_rng)
        nih[rel] = hashlib.sha256(np.asarray(rgb).tobytes()).hexdigest()[:16]
        if i % 250 == 0 or Image.open(path).mode == "RGBA" and rel.startswith("test/"):
            images["nih:" + rel] = rec
    ramp = Image.fromarray(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2))
    doc = {
        "about": "Written by tests/oracle/preprocess_oracle.py (Pillow %s, torchvision %s, torch %s)."
        % (PIL.__version__, torchvision.__version__, torch.__version__),
        "mean": MEAN,
        "std": STD,
        "normalize_lut": [[float(v) for v in row] for row in to_tensor(ramp)[:, 0, :].numpy()],
        "images": images,
        "nih_rgb_sha256": nih,
    }
    text = json.dumps(doc, indent=1)
    # one line per number array, then the repository's formatter (deno fmt --check runs in CI)
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    with open(os.path.join(FIX, "preprocess_expected.json"), "w") as f:
        f.write(text + "\n")
    subprocess.run(["deno", "fmt", os.path.join(FIX, "preprocess_expected.json")], check=True)
    print(f"{len(images)} images with samples, {len(nih)} NIH hashes")


if __name__ == "__main__":
    main()
