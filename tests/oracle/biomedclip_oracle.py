"""PyTorch oracle for the BiomedCLIP ONNX towers.

BiomedCLIP's towers re-implemented in plain PyTorch (no timm / open_clip / transformers here)
with the module names open_clip gives them, so `state_dict()` has the real open_clip keys:

- image: timm `vit_base_patch16_224` semantics (conv patch embedding, class token, learned
  position embedding, pre-norm blocks with fused qkv, q scaled by 1/sqrt(d), exact GELU, final
  LayerNorm eps 1e-6, CLS token) under `visual.trunk`, then open_clip's TimmModel head
  `visual.head.proj` (Linear, no bias);
- text: HF BertModel semantics (word + position + token type 0 embeddings, LayerNorm eps 1e-12,
  post-norm layers with the additive mask (1 - mask) * float32.min, exact GELU) under
  `text.transformer`, CLS of the last hidden state, then open_clip's HFTextEncoder MLP head
  `text.proj` = Linear(no bias) -> GELU -> Linear(no bias);
- `logit_scale`.

It writes, into --out: `open_clip_<name>.bin` (torch.save of the state dict, the zip format
open_clip's checkpoints use), the same tensors as `open_clip_<name>.safetensors`, `config.json`
(the TypeScript BiomedClipConfig), `vocab.txt` (a stand-in vocabulary of vocabSize tokens) and
`io.safetensors` (pixel_values, input_ids, attention_mask, image_embeds, text_embeds).

With --cases it instead writes `torch_cases.bin` / `torch_cases.safetensors` / `torch_cases.json`:
tensors of every storage dtype, strided and offset views, for the checkpoint reader's tests.

Run with Debian's Python (torch 1.13):
  /usr/bin/python3 tests/oracle/biomedclip_oracle.py --config tiny --out tests/fixtures/biomedclip_tiny
  /usr/bin/python3 tests/oracle/biomedclip_oracle.py --config full --out /tmp/biomedclip_full
  /usr/bin/python3 tests/oracle/biomedclip_oracle.py --cases --out tests/fixtures
"""

import argparse
import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "full": {
        "embedDim": 512,
        "vision": {"imageSize": 224, "patchSize": 16, "width": 768, "layers": 12, "heads": 12,
                   "mlpDim": 3072, "lnEps": 1e-6},
        "text": {"vocabSize": 30522, "contextLength": 256, "maxPositions": 512, "typeVocabSize": 2,
                 "width": 768, "layers": 12, "heads": 12, "intermediate": 3072, "projHidden": 640,
                 "lnEps": 1e-12},
    },
    "tiny": {
        "embedDim": 16,
        "vision": {"imageSize": 32, "patchSize": 16, "width": 32, "layers": 2, "heads": 2,
                   "mlpDim": 64, "lnEps": 1e-6},
        "text": {"vocabSize": 120, "contextLength": 16, "maxPositions": 20, "typeVocabSize": 2,
                 "width": 32, "layers": 2, "heads": 2, "intermediate": 64, "projHidden": 24,
                 "lnEps": 1e-12},
    },
}


# ---------------------------------------------------------------- image tower (timm ViT)
class PatchEmbed(nn.Module):
    def __init__(self, patch, width):
        super().__init__()
        self.proj = nn.Conv2d(3, width, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VitAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads, self.hd = heads, width // heads
        self.scale = self.hd ** -0.5
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = q * self.scale
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class VitMlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class VitBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1 = nn.LayerNorm(c["width"], eps=c["lnEps"])
        self.attn = VitAttention(c["width"], c["heads"])
        self.norm2 = nn.LayerNorm(c["width"], eps=c["lnEps"])
        self.mlp = VitMlp(c["width"], c["mlpDim"])

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        tokens = (c["imageSize"] // c["patchSize"]) ** 2 + 1
        self.patch_embed = PatchEmbed(c["patchSize"], c["width"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c["width"]))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, c["width"]))
        self.blocks = nn.ModuleList([VitBlock(c) for _ in range(c["layers"])])
        self.norm = nn.LayerNorm(c["width"], eps=c["lnEps"])

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


class TimmModel(nn.Module):
    def __init__(self, c, embed_dim):
        super().__init__()
        self.trunk = VisionTransformer(c)
        self.head = nn.Sequential(OrderedDict(
            drop=nn.Dropout(0.0), proj=nn.Linear(c["width"], embed_dim, bias=False)))

    def forward(self, x):
        return self.head(self.trunk(x))


# ---------------------------------------------------------------- text tower (HF BERT)
class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocabSize"], c["width"])
        self.position_embeddings = nn.Embedding(c["maxPositions"], c["width"])
        self.token_type_embeddings = nn.Embedding(c["typeVocabSize"], c["width"])
        self.LayerNorm = nn.LayerNorm(c["width"], eps=c["lnEps"])
        # Older transformers saved this buffer in checkpoints; the importer must skip it.
        self.register_buffer("position_ids", torch.arange(c["maxPositions"]).expand((1, -1)))

    def forward(self, ids):
        n = ids.shape[1]
        types = torch.zeros_like(ids)
        e = self.word_embeddings(ids) + self.token_type_embeddings(types)
        e = e + self.position_embeddings(self.position_ids[:, :n])
        return self.LayerNorm(e)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.hd = c["heads"], c["width"] // c["heads"]
        self.query = nn.Linear(c["width"], c["width"])
        self.key = nn.Linear(c["width"], c["width"])
        self.value = nn.Linear(c["width"], c["width"])

    def split(self, x):
        return x.view(x.shape[0], x.shape[1], self.heads, self.hd).permute(0, 2, 1, 3)

    def forward(self, h, mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask
        ctx = scores.softmax(dim=-1) @ v
        return ctx.permute(0, 2, 1, 3).reshape(h.shape)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["width"], c["width"])
        self.LayerNorm = nn.LayerNorm(c["width"], eps=c["lnEps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, h, mask):
        return self.output(self.self(h, mask), h)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["width"], c["intermediate"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["intermediate"], c["width"])
        self.LayerNorm = nn.LayerNorm(c["width"], eps=c["lnEps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, h, mask):
        a = self.attention(h, mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["layers"])])


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)

    def forward(self, ids, attention_mask):
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        h = self.embeddings(ids)
        for layer in self.encoder.layer:
            h = layer(h, ext)
        return h


class HFTextEncoder(nn.Module):
    def __init__(self, c, embed_dim):
        super().__init__()
        self.transformer = BertModel(c)
        self.proj = nn.Sequential(
            nn.Linear(c["width"], c["projHidden"], bias=False),
            nn.GELU(),
            nn.Linear(c["projHidden"], embed_dim, bias=False),
        )

    def forward(self, ids, mask):
        return self.proj(self.transformer(ids, mask)[:, 0])


class CustomTextCLIP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.visual = TimmModel(cfg["vision"], cfg["embedDim"])
        self.text = HFTextEncoder(cfg["text"], cfg["embedDim"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))


def randomize(model, gen):
    """Weights with enough spread that attention is far from uniform: linear N(0, 1/fan_in),
    embeddings N(0, 1), LayerNorm scales 1 + N(0, 0.1^2), every bias N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2 and "embed" not in name and "cls_token" not in name:
                fan_in = int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=gen))


# ---------------------------------------------------------------- safetensors writer
ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.bool: "BOOL",
             torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16"}


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 \
            else t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


# ---------------------------------------------------------------- outputs
def write_model(name, out, seed, n_images, n_texts):
    cfg = CONFIGS[name]
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    model = CustomTextCLIP(cfg).eval()
    randomize(model, gen)
    sd = model.state_dict()
    torch.save(sd, os.path.join(out, f"open_clip_{name}.bin"))
    save_safetensors(sd, os.path.join(out, f"open_clip_{name}.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2) + "\n")
    t = cfg["text"]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        f.write("\n".join(special + [f"tok{i}" for i in range(t["vocabSize"] - 5)]) + "\n")

    v = cfg["vision"]
    pixels = torch.randn(n_images, 3, v["imageSize"], v["imageSize"], generator=gen)
    L = t["contextLength"]
    ids = torch.zeros(n_texts, L, dtype=torch.int64)
    mask = torch.zeros(n_texts, L, dtype=torch.int64)
    for i in range(n_texts):
        n = L if i == 0 else int(torch.randint(3, L, (1,), generator=gen))
        ids[i, :n] = torch.randint(5, t["vocabSize"], (n,), generator=gen)
        ids[i, 0], ids[i, n - 1] = 2, 3  # [CLS] ... [SEP]
        mask[i, :n] = 1
    with torch.no_grad():
        image_embeds = model.visual(pixels)
        text_embeds = model.text(ids, mask)
    save_safetensors({"pixel_values": pixels, "input_ids": ids, "attention_mask": mask,
                      "image_embeds": image_embeds, "text_embeds": text_embeds},
                     os.path.join(out, "io.safetensors"))
    print(f"{name}: {sum(p.numel() for p in sd.values())} values; image_embeds "
          f"{tuple(image_embeds.shape)} text_embeds {tuple(text_embeds.shape)} -> {out}")


def write_cases(out):
    """Tensors that exercise every storage type and view the checkpoint reader handles."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 2
    cases = OrderedDict()
    cases["f32"] = base.clone()
    cases["f16"] = torch.tensor([1.5, -2.25, 65504.0, 6.1e-5, 3e-8, 0.0], dtype=torch.float16)
    cases["bf16"] = torch.tensor([1.5, -2.25, 3.0e38, 1e-30], dtype=torch.bfloat16)
    cases["f64"] = torch.tensor([[1.0 / 3, -1e300]], dtype=torch.float64)
    cases["i64"] = torch.tensor([-(2 ** 40), 7, 0], dtype=torch.int64)
    cases["i32"] = torch.tensor([-5, 9], dtype=torch.int32)
    cases["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    cases["bool"] = torch.tensor([True, False, True])
    cases["scalar"] = torch.tensor(3.25)
    cases["transposed"] = base.t()  # strides (1, 4), shares base's storage
    cases["offset_view"] = base[1:, 1:3]  # offset 5, strides (4, 1)
    cases["f16_transposed"] = base.half().t()
    torch.save(cases, os.path.join(out, "torch_cases.bin"))
    save_safetensors(cases, os.path.join(out, "torch_cases.safetensors"))
    expected = {k: {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                    "values": t.double().flatten().tolist() if t.is_floating_point()
                    else [int(x) for x in t.flatten().tolist()]}
                for k, t in cases.items()}
    with open(os.path.join(out, "torch_cases.json"), "w") as f:
        f.write(json.dumps(expected, indent=2) + "\n")
    print(f"cases: {list(cases)} -> {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=list(CONFIGS), default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--texts", type=int, default=3)
    ap.add_argument("--cases", action="store_true", help="write the checkpoint reader cases")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    if args.cases:
        write_cases(args.out)
    else:
        write_model(args.config, args.out, args.seed, args.images, args.texts)
