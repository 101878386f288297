"""Benchmark: dth.metrics mAP@all against a straightforward reference, in the same run.

    .venv/bin/python bench/metrics.py                     # 10,000 x 50,000 x 48 bits, 10 classes
    .venv/bin/python bench/metrics.py --queries 1000      # quicker

The reference is what DeepHash-pytorch's CalcTopMap does, written out per query:
Hamming distances from ±1 codes (0.5 * (k - q . B^T)), a stable argsort, the
cumulative precision at the relevant ranks; with the last item kept (topk = all).
The codes are clustered like trained codes (a random centre per class, each bit
flipped with probability --flip), so distances tie a lot, as they do in practice.

Prints the seconds of each, the ratios reference / dth (higher is better) and the
absolute difference of the mAP values (target: >= 10x, <= 1e-9). dth's times are
the median of --repeat runs; the reference runs once.
"""

from __future__ import annotations

import argparse
import os

# the reference's per-query products are small: one BLAS thread is its fastest setting
# (several threads spin against each other on a busy 2-core machine). dth.metrics uses no BLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from dth.metrics import mean_average_precision  # noqa: E402
from timing import median_time  # bench/timing.py (the script's folder is on sys.path)


def make_data(num_queries, num_database, bits, classes, flip, seed):
    """±1 float32 codes clustered by class, and one-hot labels."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, size=(classes, bits), dtype=np.int8)

    def sample(n):
        y = rng.integers(0, classes, size=n)
        flips = (rng.random((n, bits)) < flip).astype(np.int8)
        codes01 = centres[y] ^ flips
        return (2.0 * codes01 - 1.0).astype(np.float32), np.eye(classes, dtype=np.float32)[y]

    qb, ql = sample(num_queries)
    db, dl = sample(num_database)
    return qb, db, ql, dl


def reference_map(qb, db, ql, dl):
    """Per query: relevance, distances, stable argsort, cumulative precision (DeepHash-pytorch)."""
    bits = qb.shape[1]
    total = 0.0
    for i in range(len(qb)):
        relevant = (ql[i] @ dl.T > 0).astype(np.float64)
        distance = 0.5 * (bits - qb[i] @ db.T)
        order = np.argsort(distance, kind="stable")
        ranked = relevant[order]
        count = int(ranked.sum())
        if count == 0:
            continue
        found = np.arange(1, count + 1)
        ranks = np.flatnonzero(ranked) + 1.0
        total += np.mean(found / ranks)
    return total / len(qb)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", type=int, default=10_000)
    p.add_argument("--database", type=int, default=50_000)
    p.add_argument("--bits", type=int, default=48)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--flip", type=float, default=0.2, help="probability of flipping each bit of the class centre")
    p.add_argument("--threads", type=int, default=2, help="threads of dth.metrics (the reference is one loop)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    qb, db, ql, dl = make_data(args.queries, args.database, args.bits, args.classes, args.flip, args.seed)
    print(f"{args.queries} queries x {args.database} database x {args.bits} bits, {args.classes} classes, "
          f"dth threads {args.threads}, CPUs {os.cpu_count()}")

    t_ref, map_ref = median_time(lambda: reference_map(qb, db, ql, dl))
    print(f"reference (per-query stable argsort)   {t_ref:8.3f} s   mAP {map_ref:.12f}")
    t_stable, map_stable = median_time(lambda: mean_average_precision(qb, db, ql, dl, ties="stable",
                                                                num_threads=args.threads), args.repeat)
    print(f"dth ties='stable'                      {t_stable:8.3f} s   mAP {map_stable:.12f}")
    t_avg, map_avg = median_time(lambda: mean_average_precision(qb, db, ql, dl, ties="average",
                                                          num_threads=args.threads), args.repeat)
    print(f"dth ties='average' (tie-aware)         {t_avg:8.3f} s   mAP {map_avg:.12f}")
    print(f"speed-up stable:  {t_ref / t_stable:6.1f}x   |mAP - reference| = {abs(map_stable - map_ref):.3e}")
    print(f"speed-up average: {t_ref / t_avg:6.1f}x   (tie-aware minus stable: {map_avg - map_stable:+.3e})")


if __name__ == "__main__":
    main()
