"""NumPy oracle for t-SNE input affinities (perplexity calibration), independent of our code.

For a small fixed set of float32 points (three Gaussian blobs), computes the pairwise input
distances (squared euclidean; cosine distance 1 - cos) and the symmetrized joint probabilities
P = (P_{j|i} + P_{i|j}) / 2N, where each row's Gaussian precision beta is found by plain
bisection on log(beta) until the row entropy equals ln(perplexity) to ~1e-13 nats (far tighter
than the 1e-5 nats of the implementation under test). Writes tests/fixtures/tsne_affinities.json.

Usage: /usr/bin/python3 tests/oracle/tsne_affinities_oracle.py
"""
import json
import os

import numpy as np

rng = np.random.default_rng(11)
N, DIM = 40, 6
centers = rng.normal(scale=4.0, size=(3, DIM))
labels = np.arange(N) % 3
points = (centers[labels] + rng.normal(size=(N, DIM))).astype(np.float32)
x = points.astype(np.float64)


def distances(metric):
    if metric == "euclidean":
        diff = x[:, None, :] - x[None, :, :]
        return (diff ** 2).sum(-1)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1.0 - u @ u.T
    np.fill_diagonal(d, 0.0)
    return np.maximum(d, 0.0)


def row_probabilities(d_row, i, log_beta):
    mask = np.arange(N) != i
    shifted = d_row[mask] - d_row[mask].min()
    w = np.exp(-shifted * np.exp(log_beta))
    p = np.zeros(N)
    p[mask] = w / w.sum()
    return p


def entropy(p):
    q = p[p > 0]
    return float(-(q * np.log(q)).sum())


def joint_probabilities(d, perplexity):
    target = np.log(perplexity)
    cond = np.zeros((N, N))
    for i in range(N):
        lo, hi = -60.0, 60.0  # log(beta); entropy decreases as beta grows
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if entropy(row_probabilities(d[i], i, mid)) > target:
                lo = mid
            else:
                hi = mid
        cond[i] = row_probabilities(d[i], i, 0.5 * (lo + hi))
        assert abs(entropy(cond[i]) - target) < 1e-10
    return (cond + cond.T) / (2 * N)


cases = []
for metric, perplexity in [("euclidean", 8.0), ("cosine", 5.0)]:
    d = distances(metric)
    p = joint_probabilities(d, perplexity)
    assert abs(p.sum() - 1) < 1e-12
    cases.append({
        "metric": metric,
        "perplexity": perplexity,
        "distances": d.ravel().tolist(),
        "p": p.ravel().tolist(),
    })

out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "tsne_affinities.json")
with open(out, "w") as f:
    json.dump({
        "count": N,
        "dim": DIM,
        "points": [float(v) for v in points.ravel()],
        "labels": labels.tolist(),
        "cases": cases,
    }, f)
print(f"wrote {out}")
