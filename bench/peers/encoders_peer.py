"""PyTorch peer of bench/encoders_bench.ts: BiomedCLIP's towers at full size (random weights,
the same modules as tests/oracle/biomedclip_oracle.py), CPU, float32, no grad.

A line protocol on stdin/stdout so the Deno bench times each forward batch itself: checks its
BLAS (blas.py) and prints `ready` once the model is built, then answers each `image` / `text` /
`text_short` line with `ok` after one forward pass of --batch images / reports of the full
context (256 tokens) / reports cut to --short tokens, and each `sgemm` line after SGEMM_REPS
float32 products of SGEMM_SHAPE (the ViT's MLP matmul at 1024 rows: what the BLAS reaches on
this machine); `quit` ends it.

  /usr/bin/python3 bench/peers/encoders_peer.py --batch 4 --threads 2
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "oracle"))
from biomedclip_oracle import CONFIGS, CustomTextCLIP, randomize  # noqa: E402
from blas import blas_info, check_sgemm  # noqa: E402


SGEMM_SHAPE = (1024, 768, 3072)  # rows, inner, columns
SGEMM_REPS = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--short", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    cfg = CONFIGS["full"]
    gen = torch.Generator().manual_seed(0)
    model = CustomTextCLIP(cfg).eval()
    randomize(model, gen)
    size, length = cfg["vision"]["imageSize"], cfg["text"]["contextLength"]
    pixels = torch.randn(args.batch, 3, size, size, generator=gen)
    ids = torch.randint(5, cfg["text"]["vocabSize"], (args.batch, length), generator=gen)
    mask = torch.ones(args.batch, length, dtype=torch.int64)
    m, k, n = SGEMM_SHAPE
    ga, gb = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
    check_sgemm(lambda a, b: (torch.from_numpy(a) @ torch.from_numpy(b)).numpy())
    core = blas_info().get("openblas_core", "not OpenBLAS")
    print(f"ready torch {torch.__version__} threads {torch.get_num_threads()} BLAS {core}",
          flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "image":
            model.visual(pixels)
        elif cmd == "text":
            model.text(ids, mask)
        elif cmd == "text_short":
            model.text(ids[:, :args.short], mask[:, :args.short])
        elif cmd == "sgemm":
            for _ in range(SGEMM_REPS):
                torch.mm(ga, gb)
        elif cmd == "quit":
            break
        else:
            print(f"unknown command {cmd!r}", flush=True)
            continue
        print("ok", flush=True)


if __name__ == "__main__":
    main()
