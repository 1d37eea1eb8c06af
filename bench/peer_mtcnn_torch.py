"""Bench peer: MTCNN face detection in PyTorch, as a Python user runs it.

The same pipeline as FaceNet (TensorFlow)'s `align/detect_face.py` (and
core/detect/mtcnn.ts): an image pyramid resampled with OpenCV's INTER_AREA,
P-Net on every level, NMS, box regression, R-Net at 24 px, O-Net at 48 px,
landmarks, thresholds 0.6/0.7/0.7, factor 0.709, minsize 20, the image fed
transposed. The three nets run in PyTorch (NCHW convolutions, PReLU, max
pooling with ceil_mode = TF's SAME on these sizes); boxes and NMS in numpy.
Weights come from a safetensors file written by bench/peers_mtcnn.ts (the
specs' parameters, converted from the pinned TFLite files).

Needs Debian's python3-torch (1.13), python3-opencv and python3-numpy.

Usage: python3 bench/peer_mtcnn_torch.py WEIGHTS.safetensors PHOTO.jpg REPS THREADS

prints one JSON line: {"times_ms": [...], "boxes": [[x1, y1, x2, y2, score], ...]}.
"""

import json
import struct
import sys
import time

import cv2
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
        out[name] = np.frombuffer(body[a:b], dtype=np.float32).reshape(info["shape"]).copy()
    return out


class Nets:
    """The three nets from the specs' parameters (HWIO conv weights, [in, out] dense)."""

    def __init__(self, params):
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
        self.p = {}
        for name, a in params.items():
            if name.endswith("/weights") and a.ndim == 4:
                self.p[name] = t(a.transpose(3, 2, 0, 1))  # HWIO -> OIHW
            elif name.endswith("/weights"):
                self.p[name] = t(a.T)  # [in, out] -> [out, in]
            else:
                self.p[name] = t(a)

    def conv(self, x, name):
        return F.conv2d(x, self.p[name + "/weights"], self.p[name + "/biases"])

    def dense(self, x, name):
        return F.linear(x, self.p[name + "/weights"], self.p[name + "/biases"])

    def prelu(self, x, name):
        return F.prelu(x, self.p[name + "/alpha"])

    def pnet(self, x):
        x = self.prelu(self.conv(x, "pnet/conv1"), "pnet/PReLU1")
        x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        x = self.prelu(self.conv(x, "pnet/conv2"), "pnet/PReLU2")
        x = self.prelu(self.conv(x, "pnet/conv3"), "pnet/PReLU3")
        return F.softmax(self.conv(x, "pnet/conv4-1"), 1), self.conv(x, "pnet/conv4-2")

    def rnet(self, x):
        x = self.prelu(self.conv(x, "rnet/conv1"), "rnet/prelu1")
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        x = self.prelu(self.conv(x, "rnet/conv2"), "rnet/prelu2")
        x = F.max_pool2d(x, 3, 2)
        x = self.prelu(self.conv(x, "rnet/conv3"), "rnet/prelu3")
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # flatten H, W, C as TF
        x = self.prelu(self.dense(x, "rnet/conv4"), "rnet/prelu4")
        return F.softmax(self.dense(x, "rnet/conv5-1"), 1), self.dense(x, "rnet/conv5-2")

    def onet(self, x):
        x = self.prelu(self.conv(x, "onet/conv1"), "onet/prelu1")
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        x = self.prelu(self.conv(x, "onet/conv2"), "onet/prelu2")
        x = F.max_pool2d(x, 3, 2)
        x = self.prelu(self.conv(x, "onet/conv3"), "onet/prelu3")
        x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        x = self.prelu(self.conv(x, "onet/conv4"), "onet/prelu4")
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)
        x = self.prelu(self.dense(x, "onet/conv5"), "onet/prelu5")
        return (
            F.softmax(self.dense(x, "onet/conv6-1"), 1),
            self.dense(x, "onet/conv6-2"),
            self.dense(x, "onet/conv6-3"),
        )


def nms(boxes, threshold, method):
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s, kind="stable")
    keep = []
    while order.size > 0:
        i = order[-1]
        keep.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if method == "Min":
            o = inter / np.minimum(area[i], area[rest])
        else:
            o = inter / (area[i] + area[rest] - inter)
        order = rest[o <= threshold]
    return np.array(keep, dtype=np.int64)


def rerec(b):
    h = b[:, 3] - b[:, 1]
    w = b[:, 2] - b[:, 0]
    l = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * 0.5 - l * 0.5
    b[:, 1] = b[:, 1] + h * 0.5 - l * 0.5
    b[:, 2:4] = b[:, 0:2] + l[:, None]
    return b


def bbreg(b, reg):
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    b[:, 0:4] = b[:, 0:4] + reg[:, 0:4] * np.stack([w, h, w, h], 1)
    return b


def crops(img, boxes, size):
    """Zero-padded crops of 1-based inclusive integer boxes, INTER_AREA to size, transposed NCHW."""
    H, W = img.shape[:2]
    out = np.zeros((boxes.shape[0], size, size, 3), dtype=np.float32)
    for k, (x1, y1, x2, y2) in enumerate(boxes[:, 0:4].astype(np.int64)):
        tmp = np.zeros((y2 - y1 + 1, x2 - x1 + 1, 3))
        fx, tx, fy, ty = max(x1, 1), min(x2, W), max(y1, 1), min(y2, H)
        if tx >= fx and ty >= fy:
            tmp[fy - y1 : ty - y1 + 1, fx - x1 : tx - x1 + 1] = img[fy - 1 : ty, fx - 1 : tx]
        out[k] = cv2.resize(tmp, (size, size), interpolation=cv2.INTER_AREA)
    out = (out - 127.5) * 0.0078125
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 2, 1)))  # N, C, x, y


def detect(img, nets, minsize=20, thresholds=(0.6, 0.7, 0.7), factor=0.709):
    H, W = img.shape[:2]
    m = 12.0 / minsize
    minl = min(H, W) * m
    scales = []
    while minl >= 12:
        scales.append(m * factor ** len(scales))
        minl *= factor
    total = []
    with torch.no_grad():
        for s in scales:
            hs, ws = int(np.ceil(H * s)), int(np.ceil(W * s))
            level = (cv2.resize(img, (ws, hs), interpolation=cv2.INTER_AREA) - 127.5) * 0.0078125
            x = torch.from_numpy(np.ascontiguousarray(level.astype(np.float32).transpose(2, 1, 0)))
            prob, reg = nets.pnet(x[None])
            prob = prob[0, 1].numpy()  # [x, y]
            reg = reg[0].numpy()  # [4, x, y]
            xs, ys = np.where(prob >= thresholds[0])
            if xs.size == 1:  # the reference reads the maps upside down for a single hit
                reg = reg[:, ::-1, :]
            b = np.stack(
                [
                    np.fix((2 * xs + 1) / s),
                    np.fix((2 * ys + 1) / s),
                    np.fix((2 * xs + 12) / s),
                    np.fix((2 * ys + 12) / s),
                    prob[xs, ys],
                    reg[0, xs, ys],
                    reg[1, xs, ys],
                    reg[2, xs, ys],
                    reg[3, xs, ys],
                ],
                1,
            )
            total.append(b[nms(b, 0.5, "Union")])
        b = np.concatenate(total) if total else np.zeros((0, 9))
        if b.shape[0] == 0:
            return b[:, 0:5]
        b = b[nms(b, 0.7, "Union")]
        rw, rh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        b = np.stack(
            [b[:, 0] + b[:, 5] * rw, b[:, 1] + b[:, 6] * rh, b[:, 2] + b[:, 7] * rw, b[:, 3] + b[:, 8] * rh, b[:, 4]],
            1,
        )
        b = rerec(b)
        b[:, 0:4] = np.fix(b[:, 0:4])
        prob, reg = nets.rnet(crops(img, b, 24))
        score = prob[:, 1].numpy()
        keep = score > thresholds[1]
        b = np.concatenate([b[keep, 0:4], score[keep, None]], 1)
        reg = reg.numpy()[keep]
        if b.shape[0] == 0:
            return b
        pick = nms(b, 0.7, "Union")
        b = rerec(bbreg(b[pick], reg[pick]))
        b[:, 0:4] = np.fix(b[:, 0:4])
        prob, reg, _ = nets.onet(crops(img, b, 48))
        score = prob[:, 1].numpy()
        keep = score > thresholds[2]
        b = np.concatenate([b[keep, 0:4], score[keep, None]], 1)
        if b.shape[0] == 0:
            return b
        b = bbreg(b, reg.numpy()[keep])
        return b[nms(b, 0.7, "Min")]


def main():
    weights, photo, reps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    nets = Nets(read_safetensors(weights))
    img = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
    detect(img, nets)  # warm-up
    times = []
    boxes = None
    for _ in range(reps):
        start = time.perf_counter()
        boxes = detect(img, nets)
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"times_ms": times, "boxes": boxes.tolist(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
