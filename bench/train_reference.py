#!/usr/bin/env python3
"""The Python reference for `actionclip bench train`: one ActionCLIP training step of ViT-B/32
shapes (8 frames, mean pooling, text prompts through all 77 positions as the reference runs them),
AdamW with the reference's parameter groups, the symmetric KL loss, on random inputs (no data
loading: the model alone). Prints one JSON line with videos/s."""
import argparse
import json
import os
import sys
import time
import warnings

import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore", message="reduction: .mean.")  # the reference uses mean

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_reference import Text, Vision  # noqa: E402


def kl(logits, gt):
    return F.kl_div(F.log_softmax(logits, 1), F.softmax(gt * 10, 1), reduction="mean") * logits.shape[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vision, text = Vision(), Text()
    logit_scale = torch.nn.Parameter(torch.tensor(4.6052))
    optimizer = torch.optim.AdamW([{"params": list(text.parameters()) + [logit_scale]},
                                   {"params": vision.parameters()}],
                                  lr=5e-6, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.2)
    frames = torch.randn(a.batch, a.frames, 3, 224, 224)
    ids = torch.zeros(a.batch, 77, dtype=torch.long)
    ids[:, 0], ids[:, 1:10], ids[:, 10] = 49406, 320, 49407
    labels = torch.arange(a.batch) % 4
    gt = (labels[:, None] == labels[None, :]).float()

    def step():
        v = vision(frames.flatten(0, 1)).view(a.batch, a.frames, -1).mean(1)
        t = text(ids)
        v, t = v / v.norm(dim=-1, keepdim=True), t / t.norm(dim=-1, keepdim=True)
        logits = logit_scale.exp() * v @ t.t()
        loss = (kl(logits, gt) + kl(logits.t(), gt)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    print(json.dumps({"videos_per_s": a.batch * a.steps / (time.perf_counter() - start)}))


if __name__ == "__main__":
    main()
