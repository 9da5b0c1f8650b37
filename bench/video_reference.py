#!/usr/bin/env python3
"""The Python reference pipeline for `actionclip bench video`: PyAV decoding (decode forward to
the sampled TSN indices, as mmaction2's PyAVDecode does), torchvision preprocessing (Resize 256,
CenterCrop 224, Normalize) in a DataLoader with 2 workers, and the same ViT-B/32 shapes + mean
pooling in torch. Prints one JSON line with videos/s."""
import argparse
import json
import os
import sys
import time

import av
import torch
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_reference import Vision  # noqa: E402

MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


class Videos(torch.utils.data.Dataset):
    def __init__(self, paths, frames):
        self.paths, self.frames = paths, frames
        self.transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
                                             transforms.ToTensor(), transforms.Normalize(MEAN, STD)])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with av.open(self.paths[i]) as container:
            stream = container.streams.video[0]
            total = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
            container.seek(0)
            seg = total / self.frames
            wanted = [int(seg / 2 + seg * k) for k in range(self.frames)]
            picked = {}
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    picked[index] = frame.to_image()
                if index >= wanted[-1]:
                    break
        return torch.stack([self.transform(picked[k]) for k in wanted])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("paths", nargs="+")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Vision().eval()
    loader = torch.utils.data.DataLoader(Videos(a.paths, a.frames), batch_size=a.batch, num_workers=2)

    def run():
        with torch.inference_mode():
            for clips in loader:
                b, t = clips.shape[:2]
                model(clips.flatten(0, 1)).view(b, t, -1).mean(1)

    run()  # warm-up
    start = time.perf_counter()
    run()
    print(json.dumps({"videos_per_s": len(a.paths) / (time.perf_counter() - start)}))


if __name__ == "__main__":
    main()
