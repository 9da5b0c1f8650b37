#!/usr/bin/env python3
"""The Python reference for `actionclip bench load`: torch.load(path, map_location="cpu"), the
way users load checkpoints (everything in the file, optimizer state included). Prints one JSON
line: the fastest of --repeat loads and the peak resident memory the first load added."""
import argparse
import json
import resource
import time

import torch


def resident_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("--repeat", type=int, default=3)
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()
torch.set_num_threads(args.threads)
before = resident_mb()
times = []
for i in range(args.repeat):
    start = time.perf_counter()
    value = torch.load(args.path, map_location="cpu")
    times.append(time.perf_counter() - start)
    if i == 0:
        peak_added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - before
    del value
print(json.dumps({"seconds": min(times), "peak_added_mb": peak_added, "torch": torch.__version__}))
