"""Bench peer: the pretrained MobileFaceNet in PyTorch, as a Python user runs it.

The same network as core/models/mobilefacenet.ts (folded batch norm: every
conv and depthwise conv has a bias; PReLU; inverted-residual bottlenecks;
global depthwise 7x7; linear 1x1 convs to 192), NCHW, TensorFlow's SAME
padding (stride 1: one pixel each side; stride 2 on even sizes: none before,
one after). Weights come from a safetensors file written by
bench/peers_mobilefacenet.ts (the spec's parameters, HWIO, read from the
pinned TFLite file); the input is a raw float32 NHWC batch, already
standardized.

Needs Debian's python3-torch (1.13) and python3-numpy.

Usage: python3 bench/peer_mobilefacenet_torch.py WEIGHTS.safetensors BATCH.bin N REPS THREADS

prints one JSON line: {"times_ms": [...], "embeddings": [...]} (L2-normalised rows).
"""

import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=np.float32).reshape(info["shape"])
    return out


STAGES = [("Conv2d_2_InvResBlock", 5, 128, 64, 2), ("Conv2d_3_InvResBlock", 1, 256, 128, 2),
          ("Conv2d_4_InvResBlock", 6, 256, 128, 1), ("Conv2d_5_InvResBlock", 1, 512, 128, 2),
          ("Conv2d_6_InvResBlock", 2, 256, 128, 1)]


class MobileFaceNet:
    def __init__(self, p):
        self.w, self.b, self.a = {}, {}, {}
        for name, t in p.items():
            node, kind = name.rsplit("/", 1)
            if kind == "weights":
                if t.shape[3] == 1 and "SeparableConv2d" in node:  # depthwise [kh, kw, c, 1]
                    self.w[node] = torch.from_numpy(np.ascontiguousarray(t.transpose(2, 3, 0, 1)))
                else:  # HWIO
                    self.w[node] = torch.from_numpy(np.ascontiguousarray(t.transpose(3, 2, 0, 1)))
            elif kind == "biases":
                self.b[node] = torch.from_numpy(t.copy())
            elif kind == "alpha":
                self.a[node.rsplit("/", 1)[0]] = torch.from_numpy(t.copy())

    def conv(self, x, node, stride=1, depthwise=False, prelu=False):
        w = self.w[node]
        k = w.shape[2]
        if k == 3:
            x = F.pad(x, (1, 1, 1, 1) if stride == 1 else (0, 1, 0, 1))
        y = F.conv2d(x, w, self.b[node], stride, groups=w.shape[0] if depthwise else 1)
        return F.prelu(y, self.a[node]) if prelu else y

    def __call__(self, x):
        x = self.conv(x, "Conv2d_0", 2, prelu=True)
        x = self.conv(x, "SeparableConv2d", 1, depthwise=True, prelu=True)
        x = self.conv(x, "Conv")
        width = 64
        for stage, repeats, _, out, first in STAGES:
            for i in range(repeats):
                block = f"{stage}_{i}"
                stride = first if i == 0 else 1
                y = self.conv(x, f"{block}/Conv", prelu=True)
                y = self.conv(y, f"{block}/SeparableConv2d", stride, depthwise=True, prelu=True)
                y = self.conv(y, f"{block}/Conv_1")
                x = y + x if stride == 1 and width == out else y
                width = out
        x = self.conv(x, "Conv2d_7", prelu=True)
        x = self.conv(x, "Logits/SeparableConv2d", depthwise=True)
        x = self.conv(x, "Logits/Conv")
        x = self.conv(x, "Logits/LinearConv1x1").flatten(1)
        return F.normalize(x, dim=1, eps=1e-10)


def main():
    weights, batch, n, reps, threads = sys.argv[1:6]
    n, reps = int(n), int(reps)
    torch.set_num_threads(int(threads))
    net = MobileFaceNet(read_safetensors(weights))
    x = np.fromfile(batch, dtype=np.float32).reshape(n, 112, 112, 3)
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    times = []
    with torch.no_grad():
        out = net(x)  # warm-up
        for _ in range(reps):
            start = time.perf_counter()
            out = net(x)
            times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"times_ms": times, "embeddings": out.numpy().ravel().tolist()}))


main()
