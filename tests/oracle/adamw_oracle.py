"""PyTorch oracle for src/ops/adamw.ts: torch.optim.AdamW (non-fused, foreach=False) after
torch.nn.utils.clip_grad_norm_, float32, 5 steps with a changing learning rate.

Run with Debian's Python (torch 1.13):  /usr/bin/python3 tests/oracle/adamw_oracle.py
Writes tests/fixtures/adamw_steps.json.

The parameters are four tensors laid out flat in the order W1 (2x3), w2 (2), b (3), t (1):
W1 and w2 are in a param group with weight decay, b and t (biases, logit scale) in one
without, so in the flat buffer decay applies to the first decayEnd = 8 elements only.
Two scenarios: "clipped" (maxNorm 1, clipping active on some steps and not others) and
"unclipped" (maxNorm 0: clip_grad_norm_ is not called).
"""
import json
import pathlib

import numpy as np
import torch

SHAPES = [(2, 3), (2,), (3,), (1,)]
DECAY_END = 8
LR = [0.01, 0.02, 0.03, 0.02, 0.01]
GRAD_SCALE = [0.2, 2.0, 0.5, 5.0, 0.1]
BETA1, BETA2, EPS, WEIGHT_DECAY = 0.9, 0.98, 1e-6, 0.2


def f32_list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def run(max_norm, rng):
    n = sum(int(np.prod(s)) for s in SHAPES)
    init = rng.standard_normal(n).astype(np.float32)
    grads = [(rng.standard_normal(n) * s).astype(np.float32) for s in GRAD_SCALE]
    flat = torch.tensor(init)
    params, k = [], 0
    for s in SHAPES:
        size = int(np.prod(s))
        params.append(torch.nn.Parameter(flat[k:k + size].clone().reshape(s)))
        k += size
    opt = torch.optim.AdamW(
        [{"params": params[:2], "weight_decay": WEIGHT_DECAY},
         {"params": params[2:], "weight_decay": 0.0}],
        lr=LR[0], betas=(BETA1, BETA2), eps=EPS, foreach=False)
    steps = []
    for step, (lr, g) in enumerate(zip(LR, grads), start=1):
        k = 0
        for p in params:
            size = p.numel()
            p.grad = torch.tensor(g[k:k + size]).reshape(p.shape).clone()
            k += size
        total_norm = None
        if max_norm > 0:
            total_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        state = [opt.state[p] for p in params]
        steps.append({
            "step": step,
            "lr": lr,
            "grads": f32_list(g),
            "totalNorm": total_norm,
            "params": f32_list(torch.cat([p.detach().ravel() for p in params])),
            "m": f32_list(torch.cat([s["exp_avg"].ravel() for s in state])),
            "v": f32_list(torch.cat([s["exp_avg_sq"].ravel() for s in state])),
        })
    return {"maxNorm": max_norm, "initialParams": f32_list(init), "steps": steps}


rng = np.random.default_rng(20240601)
out = {
    "torch": torch.__version__,
    "beta1": BETA1,
    "beta2": BETA2,
    "eps": EPS,
    "weightDecay": WEIGHT_DECAY,
    "decayEnd": DECAY_END,
    "scenarios": {"clipped": run(1.0, rng), "unclipped": run(0.0, rng)},
}
path = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "adamw_steps.json"
path.write_text(json.dumps(out, indent=2) + "\n")
norms = [s["totalNorm"] for s in out["scenarios"]["clipped"]["steps"]]
print(f"wrote {path}; clipped scenario grad norms {norms}")
