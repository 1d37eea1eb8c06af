"""Bench peer: the nano network and its triplet training step in PyTorch.

The same network as core/models/nano.ts (64x64x3 input, 128-d embedding):
conv 3x3/2 (16), conv 3x3/2 (32), conv 3x3/2 (64), each batch norm without
scale and ReLU; a block of a 1x1 branch (32) and a 1x1 -> 3x3 branch (32 each),
concatenated, a 1x1 conv with bias back to 64, added with scale 0.2, ReLU;
conv 3x3/2 (128); flatten; dense without bias to 128; batch norm without
scale; L2 normalization. The training step is the bench's
(bench/model_bench.ts): forward in training mode, triplet loss (alpha 0.2)
over consecutive (anchor, positive, negative) rows, weight decay 1e-4,
backward, Adagrad (initial accumulator 0.1), and the moving average of the
weights (decay 0.9999). Inference embeds the batch in evaluation mode.

PyTorch computes NCHW with oneDNN here (Debian's python3-torch, CPU).

Usage (bench/peers.ts runs it):

    python3 bench/peer_nano_torch.py serve BATCH

then, on standard input, one request per line: "KIND THREADS REPS", KIND
"step" or "embed". Each request sets the thread count, runs once untimed
(warm-up) and REPS times timed, and answers one JSON line
{"times_ms": [...], "threads": N}. One process serves a whole bench run, so
its requests interleave with ours a second apart instead of one process
start per round.
"""

import json
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


class ConvUnit(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False)
        # Batch norm without scale (the reference implementation's scale=False).
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.005)
        self.bn.weight.requires_grad_(False)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Nano(nn.Module):
    def __init__(self, size=64, embedding=128):
        super().__init__()
        self.c1 = ConvUnit(3, 16, 3, 2)
        self.c2 = ConvUnit(16, 32, 3, 2)
        self.c3 = ConvUnit(32, 64, 3, 2)
        self.b0 = ConvUnit(64, 32, 1)
        self.b1a = ConvUnit(64, 32, 1)
        self.b1b = ConvUnit(32, 32, 3)
        self.up = nn.Conv2d(64, 64, 1, bias=True)
        self.c4 = ConvUnit(64, 128, 3, 2)
        side = size // 16
        self.bottleneck = nn.Linear(128 * side * side, embedding, bias=False)
        self.bn = nn.BatchNorm1d(embedding, eps=1e-3, momentum=0.005)
        self.bn.weight.requires_grad_(False)

    def forward(self, x):
        x = self.c3(self.c2(self.c1(x)))
        mixed = torch.cat([self.b0(x), self.b1b(self.b1a(x))], 1)
        x = F.relu(x + 0.2 * self.up(mixed))
        x = self.c4(x).flatten(1)
        return F.normalize(self.bn(self.bottleneck(x)), dim=1, eps=1e-5)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: peer_nano_torch.py serve BATCH")
    batch = int(sys.argv[2])
    torch.manual_seed(0)
    model = Nano()
    images = torch.rand(batch, 3, 64, 64) * 2 - 1
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adagrad(params, lr=0.05, initial_accumulator_value=0.1)
    average = [p.detach().clone() for p in params]

    def step():
        model.train()
        optimizer.zero_grad()
        e = model(images)
        a, p, n = e[0::3], e[1::3], e[2::3]
        pos = (a - p).pow(2).sum(1)
        neg = (a - n).pow(2).sum(1)
        loss = F.relu(pos - neg + 0.2).mean()
        loss = loss + 1e-4 * sum((w * w).sum() for w in params if w.dim() > 1) / 2
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for avg, w in zip(average, params):
                avg.mul_(0.9999).add_(w, alpha=1e-4)

    def embed():
        model.eval()
        with torch.no_grad():
            model(images)

    for line in sys.stdin:
        kind, threads, reps = line.split()
        torch.set_num_threads(int(threads))
        run = step if kind == "step" else embed
        run()
        times = []
        for _ in range(int(reps)):
            t0 = time.perf_counter()
            run()
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"times_ms": times, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
