"""Bench peer: the reference implementation's triplet selection in numpy.

A re-statement of FaceNet (TensorFlow)'s `select_triplets` (VGG-Face style):
for each identity, each anchor `a` and each later positive `p` of the same
identity, the squared distances from `a` to every row (recomputed per anchor,
as the reference does), the identity's own rows masked with NaN for every
pair, the candidates `np.where(d(a,n) - d(a,p) < alpha)`, one drawn with
`np.random.randint`, and the triplets shuffled with `np.random.shuffle` at the
end. Same algorithm and numpy calls, so its time is the reference's.

Usage (bench/peers.ts runs it):

    python3 bench/peer_select_triplets_numpy.py EMBEDDINGS.f32 ROWS COLS \
        PEOPLE PER_PERSON ALPHA REPS

prints one JSON line: {"times_ms": [...], "triplets": N, "pairs": N}.
"""

import json
import sys
import time

import numpy as np


def select_triplets(embeddings, images_per_class, people, alpha):
    triplets = []
    start = 0
    pairs = 0
    for i in range(people):
        count = int(images_per_class[i])
        for j in range(1, count):
            a = start + j - 1
            neg_dists = np.sum(np.square(embeddings[a] - embeddings), 1)
            for p in range(start + j, start + count):
                pos_dist = np.sum(np.square(embeddings[a] - embeddings[p]))
                neg_dists[start:start + count] = np.nan
                candidates = np.where(neg_dists - pos_dist < alpha)[0]
                if candidates.shape[0] > 0:
                    n = candidates[np.random.randint(candidates.shape[0])]
                    triplets.append((a, p, n))
                pairs += 1
        start += count
    np.random.shuffle(triplets)
    return triplets, pairs


def main():
    path, rows, cols, people, per_person, alpha, reps = sys.argv[1:8]
    rows, cols, people, per_person, reps = (int(v) for v in (rows, cols, people, per_person, reps))
    embeddings = np.fromfile(path, dtype=np.float32).reshape(rows, cols)
    images_per_class = np.full(people, per_person)
    np.random.seed(0)
    times = []
    with np.errstate(invalid="ignore"):
        for _ in range(reps):
            t0 = time.perf_counter()
            triplets, pairs = select_triplets(embeddings, images_per_class, people, float(alpha))
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"times_ms": times, "triplets": len(triplets), "pairs": pairs}))


if __name__ == "__main__":
    main()
