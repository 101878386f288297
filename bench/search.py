"""Benchmark: `dth search`'s search path against faiss used directly and a numpy brute force.

    .venv/bin/python bench/search.py                       # 50k and 1M random 48-bit codes
    .venv/bin/python bench/search.py --sizes 50000 --queries 500

For each database size it times, on the same random packed codes and queries:
    dth          dth.search.build_index("flat") + dth.search.search (IndexBinaryFlat, counting search)
    dth-hash     the same with the hash index (IndexBinaryHash, approximate)
    faiss        faiss.IndexBinaryFlat with its defaults (heap search), used directly
    numpy        popcount of the XOR (dth.hamming) + np.argpartition + a sort of the top k
and prints queries/s and the ratios to dth's flat path (medians of --repeat runs).
The flat results are checked to have the same distances as numpy's.
"""

from __future__ import annotations

import argparse

import faiss
import numpy as np

from dth.hamming import hamming_distances_words, to_words
from dth.search import build_index, search
from timing import median_time  # bench/timing.py (the script's folder is on sys.path)


def numpy_search(query_codes, database_codes, topk, chunk=64):
    qw, dbw = to_words(query_codes), to_words(database_codes)
    distances = np.empty((len(qw), topk), np.int64)
    indices = np.empty((len(qw), topk), np.int64)
    for start in range(0, len(qw), chunk):
        d = hamming_distances_words(qw[start:start + chunk], dbw)
        part = np.argpartition(d, topk - 1, axis=1)[:, :topk]
        pd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(pd, axis=1, kind="stable")
        indices[start:start + chunk] = np.take_along_axis(part, order, axis=1)
        distances[start:start + chunk] = np.take_along_axis(pd, order, axis=1)
    return distances, indices


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[50_000, 1_000_000])
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--bits", type=int, default=48)
    p.add_argument("--topk", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    nbytes = (args.bits + 7) // 8
    queries = rng.integers(0, 256, (args.queries, nbytes), dtype=np.uint8)
    print(f"{args.queries} queries, top {args.topk}, {args.bits}-bit random codes, faiss threads "
          f"{faiss.omp_get_max_threads()}")
    for size in args.sizes:
        database = rng.integers(0, 256, (size, nbytes), dtype=np.uint8)
        flat = build_index(database, args.bits, "flat")
        hashed = build_index(database, args.bits, "hash")
        direct = faiss.IndexBinaryFlat(8 * nbytes)
        direct.add(database)
        t_dth, (d_dth, _) = median_time(lambda: search(flat, queries, args.topk), args.repeat)
        t_hash, _ = median_time(lambda: search(hashed, queries, args.topk), args.repeat)
        t_faiss, _ = median_time(lambda: direct.search(queries, args.topk), args.repeat)
        t_numpy, (d_np, _) = median_time(lambda: numpy_search(queries, database, args.topk), 1)
        assert np.array_equal(d_dth, d_np), "flat search and numpy disagree on distances"
        print(f"database {size:>9,}:")
        for name, t in (("dth flat", t_dth), ("dth hash", t_hash), ("faiss direct", t_faiss), ("numpy", t_numpy)):
            print(f"  {name:<13} {args.queries / t:>12,.0f} queries/s   time / dth flat's: {t / t_dth:6.2f}")


if __name__ == "__main__":
    main()
