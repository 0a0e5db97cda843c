#!/usr/bin/python3
"""Peer of bench/preprocess_bench.ts: open_clip's image pipeline in PIL + torchvision (Debian's
/usr/bin/python3), images/s on the same inputs: the first 64 NIH PNGs of train/0_normal and a
2048x2500 PNG test card made by the same formula. Bytes are decoded inside the timed loop, as
in the Deno bench. Run from the repository root: /usr/bin/python3 bench/peers/preprocess_peer.py
"""

import io
import os
import time

import numpy as np
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
pipeline = T.Compose(
    [
        T.Resize(224, interpolation=InterpolationMode.BICUBIC),
        T.CenterCrop(224),
        lambda im: im.convert("RGB"),
        T.ToTensor(),
        T.Normalize(MEAN, STD),
    ]
)


def test_card(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    edge = np.where(((x // 64) + (y // 64)) % 2 == 1, 40, 0)
    rgb = np.stack([np.minimum(255, x * 255 / w + edge), y * 255 / h,
                    128 + 100 * np.sin(x / 37) * np.cos(y / 53)], -1)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def rate(blobs, seconds=5.0):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for b in blobs:
            pipeline(Image.open(io.BytesIO(b)))
        n += len(blobs)
    return n / (time.perf_counter() - t0)


nih_dir = os.path.join("..", "shared", "data", "nih-cxr-1000", "train", "0_normal")
if os.path.isdir(nih_dir):
    names = sorted(os.listdir(nih_dir))[:64]
    nih = [open(os.path.join(nih_dir, n), "rb").read() for n in names]
    print(f"NIH PNG 64x64 -> 224: {rate(nih):.1f} images/s")
print(f"generated PNG 2048x2500 -> 224: {rate([test_card(2048, 2500)]):.2f} images/s")
