"""PyTorch oracle for GELU (erf form, nn.GELU() default) and erf, in float64.

Run with Debian's Python (torch 1.13):  /usr/bin/python3 tests/oracle/gelu_oracle.py
Writes tests/fixtures/gelu_points.json: x, gelu(x), d gelu / dx, erf(x), erfc(x).
"""
import json
import pathlib

import torch

torch.set_default_dtype(torch.float64)
xs = [-12.0, -9.0, -7.5, -6.0, -5.0, -4.0, -3.3, -3.0, -2.5, -2.0, -1.5, -1.0, -0.7, -0.5,
      -0.25, -1e-3, -1e-8, 0.0, 1e-8, 1e-3, 0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0, 3.3, 4.0,
      5.0, 6.0, 7.5, 9.0, 12.0]
x = torch.tensor(xs, requires_grad=True)
y = torch.nn.GELU()(x)
(grad,) = torch.autograd.grad(y.sum(), x)
xd = x.detach()
out = {
    "torch": torch.__version__,
    "x": xs,
    "gelu": y.detach().tolist(),
    "dgelu": grad.tolist(),
    "erf": torch.erf(xd).tolist(),
    "erfc": torch.erfc(xd).tolist(),
}
path = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "gelu_points.json"
path.write_text(json.dumps(out, indent=2) + "\n")
print(f"wrote {path}")
