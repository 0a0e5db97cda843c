"""PyTorch oracle for the OpenAI CLIP ONNX towers (src/encoders/clip_onnx_builder.ts).

open_clip's `CLIP` model as it runs `ViT-B-16` with OpenAI weights, re-implemented in plain
PyTorch (no open_clip here) with open_clip's module names, so `state_dict()` has the real keys:

- image (`visual`): conv1 patch embedding without bias, class embedding, positional embedding,
  ln_pre, pre-LN residual blocks (nn.MultiheadAttention, MLP c_fc -> QuickGELU -> c_proj),
  ln_post on the class token, `@ proj`;
- text: token embedding + positional embedding, the same blocks under a causal mask (-inf above
  the diagonal), ln_final, the features at `text.argmax(-1)` (the end token, CLIP's largest id),
  `@ text_projection`;
- `logit_scale`. LayerNorm eps 1e-5 everywhere (PyTorch's default, as CLIP).

Weights are random with enough spread that attention is far from uniform, rounded to float16
values (so the float16 TorchScript copy below holds exactly the same numbers).

Writes into --out: `open_clip_<name>.bin` (torch.save of the state dict, the zip format of
open_clip's checkpoints), `config.json` (the TypeScript ClipConfig), `io.safetensors`
(pixel_values, input_ids, attention_mask, image_embeds, text_embeds; row 0 fills the whole
context) and, for configs other than tiny, `bpe_stub.txt`: stand-in merges ("x 0", "x 1", ...)
so the tokenizer has the text tower's vocabulary size (the tiny config's vocabulary is
tests/fixtures/clip_tiny/bpe_tiny.txt). With --jit also `clip_<name>_jit.pt`: the model traced
and saved by torch.jit in float16, the form of OpenAI's own `ViT-B-16.pt`.

Run with Debian's Python (torch 1.13):
  /usr/bin/python3 tests/oracle/clip_oracle.py --config tiny --jit --out tests/fixtures/clip_tiny
  /usr/bin/python3 tests/oracle/clip_oracle.py --config full --out /tmp/clip_full
"""

import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from biomedclip_oracle import save_safetensors  # noqa: E402

CONFIGS = {
    "full": {
        "embedDim": 512,
        "vision": {"imageSize": 224, "patchSize": 16, "width": 768, "layers": 12, "heads": 12,
                   "mlpDim": 3072, "lnEps": 1e-5},
        "text": {"vocabSize": 49408, "contextLength": 77, "width": 512, "layers": 12, "heads": 8,
                 "mlpDim": 2048, "lnEps": 1e-5},
    },
    "tiny": {
        "embedDim": 16,
        "vision": {"imageSize": 32, "patchSize": 16, "width": 32, "layers": 2, "heads": 2,
                   "mlpDim": 64, "lnEps": 1e-5},
        "text": {"vocabSize": 814, "contextLength": 16, "width": 32, "layers": 2, "heads": 2,
                 "mlpDim": 64, "lnEps": 1e-5},
    },
}


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, mlp, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=eps)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width, eps=eps)
        self.mlp = nn.Sequential(OrderedDict(
            c_fc=nn.Linear(width, mlp), gelu=QuickGELU(), c_proj=nn.Linear(mlp, width)))

    def forward(self, x, attn_mask=None):
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resblocks = nn.ModuleList([
            ResidualAttentionBlock(c["width"], c["heads"], c["mlpDim"], c["lnEps"])
            for _ in range(c["layers"])])

    def forward(self, x, attn_mask=None):
        for block in self.resblocks:
            x = block(x, attn_mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, c, embed_dim):
        super().__init__()
        w, p = c["width"], c["patchSize"]
        self.conv1 = nn.Conv2d(3, w, kernel_size=p, stride=p, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(w))
        self.positional_embedding = nn.Parameter(torch.zeros((c["imageSize"] // p) ** 2 + 1, w))
        self.ln_pre = nn.LayerNorm(w, eps=c["lnEps"])
        self.transformer = Transformer(c)
        self.ln_post = nn.LayerNorm(w, eps=c["lnEps"])
        self.proj = nn.Parameter(torch.zeros(w, embed_dim))

    def forward(self, x):
        x = self.conv1(x)
        x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj


class CLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        t = cfg["text"]
        self.visual = VisionTransformer(cfg["vision"], cfg["embedDim"])
        self.transformer = Transformer(t)
        self.token_embedding = nn.Embedding(t["vocabSize"], t["width"])
        self.positional_embedding = nn.Parameter(torch.zeros(t["contextLength"], t["width"]))
        self.ln_final = nn.LayerNorm(t["width"], eps=t["lnEps"])
        self.text_projection = nn.Parameter(torch.zeros(t["width"], cfg["embedDim"]))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        L = t["contextLength"]
        self.register_buffer("attn_mask", torch.full((L, L), float("-inf")).triu(1),
                             persistent=False)

    def encode_text(self, text):
        x = self.token_embedding(text) + self.positional_embedding
        x = self.ln_final(self.transformer(x, self.attn_mask))
        return x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection

    def forward(self, image, text):
        return self.visual(image), self.encode_text(text)


def randomize(model, gen):
    """Linear and conv weights N(0, 1/fan_in), the projections N(0, 1/width), embeddings N(0, 1),
    LayerNorm scales 1 + N(0, 0.1^2), biases N(0, 0.1^2); all rounded to float16 values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if ".ln_" in "." + name and name.endswith("weight"):
                v = 1 + 0.1 * torch.randn(p.shape, generator=gen)
            elif name.endswith("bias"):
                v = 0.1 * torch.randn(p.shape, generator=gen)
            elif name.endswith("proj") or name.endswith("projection"):
                v = torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[0])
            elif "embedding" in name:
                v = torch.randn(p.shape, generator=gen)
            else:
                v = torch.randn(p.shape, generator=gen) / math.sqrt(p[0].numel())
            p.copy_(v.half().float())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=list(CONFIGS), default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--texts", type=int, default=3)
    ap.add_argument("--jit", action="store_true", help="also write the float16 TorchScript copy")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    cfg = CONFIGS[args.config]
    os.makedirs(args.out, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    model = CLIP(cfg).eval()
    randomize(model, gen)
    torch.save(model.state_dict(), os.path.join(args.out, f"open_clip_{args.config}.bin"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2) + "\n")
    v, t = cfg["vision"], cfg["text"]
    if args.config != "tiny":
        with open(os.path.join(args.out, "bpe_stub.txt"), "w") as f:
            f.write("#version: 0.2 - stand-in merges for the oracle's random text tower\n")
            f.write("".join(f"x {i}\n" for i in range(t["vocabSize"] - 514)))

    pixels = torch.randn(args.images, 3, v["imageSize"], v["imageSize"], generator=gen)
    L, sot, eot = t["contextLength"], t["vocabSize"] - 2, t["vocabSize"] - 1
    ids = torch.zeros(args.texts, L, dtype=torch.int64)
    mask = torch.zeros(args.texts, L, dtype=torch.int64)
    for i in range(args.texts):
        n = L if i == 0 else int(torch.randint(3, L, (1,), generator=gen))
        ids[i, :n] = torch.randint(0, sot, (n,), generator=gen)
        ids[i, 0], ids[i, n - 1] = sot, eot
        mask[i, :n] = 1
    image_embeds, text_embeds = model(pixels, ids)
    save_safetensors({"pixel_values": pixels, "input_ids": ids, "attention_mask": mask,
                      "image_embeds": image_embeds, "text_embeds": text_embeds},
                     os.path.join(args.out, "io.safetensors"))
    if args.jit:
        traced = torch.jit.trace(model, (pixels[:1], ids[:1]))
        torch.jit.save(traced.half(), os.path.join(args.out, f"clip_{args.config}_jit.pt"))
    n = sum(p.numel() for p in model.state_dict().values())
    print(f"{args.config}: {n} values; image_embeds {tuple(image_embeds.shape)} "
          f"text_embeds {tuple(text_embeds.shape)} -> {args.out}")


if __name__ == "__main__":
    main()
