"""PyTorch oracle for a few training steps of the projector heads.

Runs 5 steps of the method on one fixed batch with plain PyTorch (Debian python3-torch 1.13):
image/text heads nn.Sequential(Linear, GELU, Dropout(0), Linear), L2 normalization,
logits = min(exp(t), 100) * z_i z_t^T, composite loss
w_clip * CLIP + w_supcon * SupCon(cat(z_i, z_t), labels x2) + w_bce * BCE(classifier(cat), labels x2),
global grad-norm clipping, AdamW (weight decay on 2-D weights only). Writes the initial
parameters, the batch, the loss terms of every step and the parameters after the last step to
tests/fixtures/train_steps.json.

Usage: /usr/bin/python3 tests/oracle/train_steps_oracle.py
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)

IN, HIDDEN, OUT, B = 16, 12, 8, 8
W_CLIP, W_SUPCON, W_BCE, TAU = 1.0, 0.5, 0.3, 0.1
LR, BETAS, EPS, WD, CLIP_NORM, STEPS = 1e-2, (0.9, 0.98), 1e-6, 0.2, 1.0, 5


def head():
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.GELU(), nn.Dropout(0.0), nn.Linear(HIDDEN, OUT))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_head = head()
        self.text_head = head()
        self.classifier = nn.Linear(OUT, 1)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def supcon(z, labels, tau):
    n = z.shape[0]
    sim = z @ z.T / tau
    self_mask = torch.eye(n, dtype=torch.bool)
    sim = sim.masked_fill(self_mask, float("-inf"))
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = pos.sum(1)
    has = counts > 0
    mean_log_prob = (log_prob.masked_fill(~pos, 0.0)).sum(1)[has] / counts[has]
    return -mean_log_prob.mean() if has.any() else z.sum() * 0


def losses(model, x_img, x_txt, labels):
    zi = F.normalize(model.image_head(x_img), dim=1)
    zt = F.normalize(model.text_head(x_txt), dim=1)
    scale = torch.clamp(model.logit_scale.exp(), max=100)
    logits = scale * zi @ zt.T
    target = torch.arange(B)
    clip = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    z = torch.cat([zi, zt])
    labels2 = torch.cat([labels, labels])
    sup = supcon(z, labels2, TAU)
    bce = F.binary_cross_entropy_with_logits(model.classifier(z).squeeze(1), labels2.to(z.dtype))
    return clip, sup, bce


def main():
    # Created in float32 (so the GPU starts from the very same values), trained in float64.
    model = Model().double()
    x_img = torch.randn(B, IN).double()
    x_txt = torch.randn(B, IN).double()
    labels = torch.tensor([0, 1, 1, 0, 1, 1, 0, 1])
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS, foreach=False,
    )
    history = []
    for _ in range(STEPS):
        opt.zero_grad()
        clip, sup, bce = losses(model, x_img, x_txt, labels)
        total = W_CLIP * clip + W_SUPCON * sup + W_BCE * bce
        total.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        history.append({"clip": clip.item(), "supcon": sup.item(), "bce": bce.item(),
                        "total": total.item(), "grad_norm": norm.item()})

    def dump(sd):
        return {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in sd.items()}

    out = {
        "config": {"inDim": IN, "hidden": HIDDEN, "outDim": OUT, "layers": 2, "dropout": 0.0,
                   "batch": B, "wClip": W_CLIP, "wSupcon": W_SUPCON, "wBce": W_BCE,
                   "temperature": TAU, "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1],
                   "eps": EPS, "weightDecay": WD, "maxGradNorm": CLIP_NORM, "steps": STEPS},
        "image": x_img.flatten().tolist(),
        "text": x_txt.flatten().tolist(),
        "label": labels.tolist(),
        "initial": dump(initial),
        "steps": history,
        "final": dump(model.state_dict()),
        "torch": torch.__version__,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "train_steps.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print("wrote", path, [round(h["total"], 6) for h in history])


if __name__ == "__main__":
    main()
