#!/usr/bin/env python3
"""The Python reference path for `actionclip bench clip`: OpenAI CLIP's ViT-B/32 shapes built
with torch (nn.MultiheadAttention, sequence-first, all 77 text positions as clip.encode_text
runs them), random weights, inference mode. Prints one JSON line of throughputs."""
import argparse
import json
import time

import torch
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, width, heads, mask=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)
        self.mask = mask

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=self.mask)[0]
        return x + self.mlp(self.ln_2(x))


class Vision(nn.Module):
    def __init__(self, resolution=224, patch=32, width=768, layers=12, heads=12, dim=512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.cls = nn.Parameter(torch.randn(width))
        self.pos = nn.Parameter(torch.randn((resolution // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, dim))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.pos
        x = self.blocks(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0]) @ self.proj


class Text(nn.Module):
    def __init__(self, width=512, layers=12, heads=8, dim=512, context=77, vocab=49408):
        super().__init__()
        mask = torch.full((context, context), float("-inf")).triu(1)
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.randn(context, width) * 0.01)
        self.blocks = nn.Sequential(*[Block(width, heads, mask) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, dim))

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        x = self.ln_final(self.blocks(x.permute(1, 0, 2)).permute(1, 0, 2))
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.proj


def throughput(fn, items, seconds):
    fn()  # warm-up
    start, runs = time.perf_counter(), 0
    while True:
        fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return items * runs / elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--text-batch", type=int, default=256)
    p.add_argument("--prompt-tokens", type=int, default=12)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seconds", type=float, default=5)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vision, text = Vision().eval(), Text().eval()
    images = torch.randn(a.batch, 3, 224, 224)
    ids = torch.zeros(a.text_batch, 77, dtype=torch.long)
    ids[:, 0] = 49406
    ids[:, 1:a.prompt_tokens - 1] = torch.randint(1, 49000, (a.text_batch, a.prompt_tokens - 2))
    ids[:, a.prompt_tokens - 1] = 49407
    with torch.inference_mode():
        images_per_s = throughput(lambda: vision(images), a.batch, a.seconds)
        texts_per_s = throughput(lambda: text(ids), a.text_batch, a.seconds)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "images_per_s": images_per_s, "texts_per_s": texts_per_s}))


if __name__ == "__main__":
    main()
