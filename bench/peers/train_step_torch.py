"""PyTorch peer of bench/train_step_bench.ts: one full training step of the projector heads
(B=256, 512->512->256 heads, GELU, dropout 0.1, CLIP + SupCon + BCE, grad clipping, AdamW) on the
CPU, per line read on stdin. Checks its BLAS (blas.py) and prints a JSON banner with versions,
threads and BLAS first, then "ok" after each step. Run with Debian's /usr/bin/python3
(python3-torch, OpenBLAS)."""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from blas import blas_info, check_sgemm

B, IN, HIDDEN, OUT = 256, 512, 512, 256
torch.manual_seed(0)
torch.set_num_threads(2)


def head():
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.GELU(), nn.Dropout(0.1), nn.Linear(HIDDEN, OUT))


image_head, text_head, classifier = head(), head(), nn.Linear(OUT, 1)
logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
params = [*image_head.parameters(), *text_head.parameters(), *classifier.parameters(), logit_scale]
opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.2)
N = 4096
images, texts = torch.randn(N, IN), torch.randn(N, IN)
labels = (torch.rand(N) < 0.6).long()


def supcon(z, y, tau=0.1):
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sim = (z @ z.T / tau).masked_fill(eye, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, 1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~eye
    cnt = pos.sum(1)
    has = cnt > 0
    return -(log_prob.masked_fill(~pos, 0).sum(1)[has] / cnt[has]).mean()


def step():
    idx = torch.randint(0, N, (B,))
    y = labels[idx]
    zi = F.normalize(image_head(images[idx]), dim=1)
    zt = F.normalize(text_head(texts[idx]), dim=1)
    logits = torch.clamp(logit_scale.exp(), max=100) * zi @ zt.T
    t = torch.arange(B)
    clip = 0.5 * (F.cross_entropy(logits, t) + F.cross_entropy(logits.T, t))
    z, y2 = torch.cat([zi, zt]), torch.cat([y, y])
    bce = F.binary_cross_entropy_with_logits(classifier(z).squeeze(1), y2.float())
    loss = clip + 0.5 * supcon(z, y2) + 0.5 * bce
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


step()
check_sgemm(lambda a, b: (torch.from_numpy(a) @ torch.from_numpy(b)).numpy())
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), **blas_info()}),
      flush=True)
for line in sys.stdin:
    step()
    print("ok", flush=True)
