"""PyTorch oracle for the composite loss (tests/composite_loss_test.ts).

Run with Debian's Python, which has torch:  /usr/bin/python3 tests/oracle/composite_loss_oracle.py
Writes tests/fixtures/composite_loss.json: the inputs (float32-representable, so the GPU sees the
same numbers), each loss term, the weighted total and the gradients of the total with respect to
the raw (unnormalized) embeddings u, v, the log scale t and the classifier logits, all computed in
float64 with plain PyTorch and autograd.
"""

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

B, DIM = 8, 16
TEMPERATURE = 0.1
WEIGHTS = {"clip": 1.0, "supcon": 0.5, "bce": 0.3}
LABELS = [0, 1, 1, 0, 1, 0, 0, 1]  # mixed normal (0) / abnormal (1)


def supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Khosla et al. 2020, "all" contrast mode, no base-temperature factor."""
    n = z.shape[0]
    sim = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool)
    log_prob = sim - torch.logsumexp(sim.masked_fill(self_mask, -math.inf), dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    count = positives.sum(dim=1)
    anchors = count > 0
    per_anchor = -(log_prob * positives).sum(dim=1)[anchors] / count[anchors]
    return per_anchor.mean()


def main() -> None:
    gen = torch.Generator().manual_seed(20260105)
    # float32 draws widened to float64: the GPU test uploads exactly these values.
    u = torch.randn(B, DIM, generator=gen).float().double().requires_grad_()
    v = torch.randn(B, DIM, generator=gen).float().double().requires_grad_()
    t = torch.tensor(float(torch.tensor(math.log(1 / 0.07)).float()), dtype=torch.float64)
    t.requires_grad_()
    cls_logits = (2 * torch.randn(2 * B, generator=gen)).float().double().requires_grad_()
    labels = torch.tensor(LABELS, dtype=torch.long)
    labels2 = torch.cat([labels, labels])

    u_n, v_n = F.normalize(u, dim=1), F.normalize(v, dim=1)
    logits = torch.clamp(t.exp(), max=100.0) * u_n @ v_n.T
    target = torch.arange(B)
    clip = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    sup = supcon(torch.cat([u_n, v_n]), labels2, TEMPERATURE)
    bce = F.binary_cross_entropy_with_logits(cls_logits, labels2.double())
    total = WEIGHTS["clip"] * clip + WEIGHTS["supcon"] * sup + WEIGHTS["bce"] * bce
    total.backward()

    flat = lambda x: x.detach().reshape(-1).tolist()  # noqa: E731
    fixture = {
        "about": "written by tests/oracle/composite_loss_oracle.py (torch %s, float64)"
        % torch.__version__,
        "B": B,
        "dim": DIM,
        "temperature": TEMPERATURE,
        "weights": WEIGHTS,
        "inputs": {
            "u": flat(u),
            "v": flat(v),
            "t": t.item(),
            "cls_logits": flat(cls_logits),
            "labels": LABELS,
        },
        "terms": {"clip": clip.item(), "supcon": sup.item(), "bce": bce.item()},
        "total": total.item(),
        "grads": {
            "u": flat(u.grad),
            "v": flat(v.grad),
            "t": t.grad.item(),
            "cls_logits": flat(cls_logits.grad),
        },
    }
    out = Path(__file__).resolve().parent.parent / "fixtures" / "composite_loss.json"
    out.write_text(json.dumps(fixture, indent=2) + "\n")
    print(f"wrote {out}: terms {fixture['terms']}, total {fixture['total']}")


if __name__ == "__main__":
    main()
