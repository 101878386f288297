"""Claim 7, the search a retrieval service runs: packed binary codes against real-valued vectors.

    dth service-search            # params.yaml, data/prepared, models/ -> results/service/
    dth service-search --params params.yaml --data data/prepared --teacher models/teacher.pt \\
        --students "models/dth-{bits}-s{seed}.pt" --quality results/service/quality.json \\
        --timings results/service/search.json --curve results/service/search-times.csv

For the teacher (each k of params `bits`) and the DTH student of params `seed` (each k; in
--students, {bits} is replaced by k and {seed} by params `seed`), three exact faiss indexes searched
on one thread (faiss and torch, `one_thread`; the images are encoded on every thread before):
    binary    the packed k-bit codes, IndexBinaryFlat (counting search, as `dth search`): ceil(k/8) bytes per item
    real      the same model's real-valued k-dim hash outputs (before the sign), IndexFlatL2: 4k bytes
    features  its penultimate features (teacher 512-d, one index for all its heads; student 500-d, relu(fc)),
              IndexFlatL2: 4 x dim bytes
A database of size n (service.database_sizes) is the first n of: the run's database (data/prepared);
the dataset's other real images (pool rows that are neither query, train nor database of the split
of params `data`, in pool order; none for nus-wide, whose pool is not held in memory); synthetic
items. A synthetic item is a real item's penultimate features (a row drawn at random) plus Gaussian
noise of std service.growth_noise x that dimension's std over the real items, passed through the
model's own hash layer (`real`) and its sign (`binary`), so the three indexes hold the same items
(the student's features, post-ReLU when real, are not clipped at 0 after the noise).
The draws come from numpy default_rng([seed, c]) for chunk c of GROW_CHUNK items: an item does not
depend on the other sizes, and every model grows from the same rows and the same standard normals.

Timing of a cell (model, k, index, n): SEARCH_WARMUP untimed searches, then query-set items one at a time
(index.search(q[i:i+1], service.topk)), timed with time.perf_counter, until `search_queries` are
timed or the timed ones add up to `search_seconds` (never fewer than 5). Index building is not
timed. An index grows in place through the sizes in increasing order; one index is held at a time,
besides the hash outputs of the largest database (n x the sum of the k of that model, float32).

Quality (no timing, no synthetic item; the images are encoded in the run's precision, encode.amp,
as `dth evaluate` encodes them, so `binary_stable` is the `map` of results/metrics on the same
machine): mAP@evaluate.topk (null: all) of the query set
against the run's database. binary: dth.metrics' tie-aware mAP of the packed codes (binary_stable:
ties by database index, the `map` of results/metrics); real, features: ranked by L2 distance, ties
by database index (`real_valued_map`). Relevant = sharing a label.

Outputs (written atomically; every key of k or n is a string):
    --quality  {"map": {"teacher"|"dth": {k: {"binary", "binary_stable", "real", "features"}}},
                "dims": {"teacher": 512, "dth": 500}, "bytes_per_item": {model: {k: {index: bytes}}},
                "real_items": {n: real items among the first n}, "queries": .., "database": ..}
    --timings  {"cpu": {...}, "threads": 1, "topk": .., "faiss": version, "database_sizes": {n: n},
                "search_us": {model: {k: {index: {n: {"median", "p95", "queries"}}}}},
                "speedup_binary_over_features": {model: {k: features median / binary median at the largest n}}}
               The teacher's features index serves all its heads: measured once, repeated under every k.
    --curve    CSV model,bits,kind,database_size,median_us,p95_us,queries,bytes_per_item: one row per
               measured cell (the teacher's features rows have an empty bits), for a log-log figure.

params: service (database_sizes, growth_noise, topk, search_queries, search_seconds), seed,
bits, data (pool and split), encode.batch_size, evaluate.topk.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from functools import partial

import numpy as np
import torch

from dth.data import forward_batches, load_manifest, load_split
from dth.datasets import read_pool
from dth.errors import DthError
from dth.hamming import pack_codes, packed_width
from dth.hardware import resolve_amp
from dth.io import atomic_path, write_json
from dth.metrics import mean_average_precision
from dth.params import load_params
from dth.service_common import (add_model_arguments, cpu_info, fill, load_student, load_teacher, one_thread, student_penultimate,
                                summary_us)
from dth.splits import check_protocol, split
from dth.timing import loop_timer

GROW_CHUNK = 32768  # synthetic items drawn per generator (part of the items' definition: do not change)
MIN_QUERIES = 5     # timed searches per cell, whatever search_seconds
SEARCH_WARMUP = 2   # untimed searches per cell: each scans the whole index, so one already warms it
KINDS = ("binary", "real", "features")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--model", choices=["teacher", "dth", "all"], default="all",
                        help="measure the teacher (every k: one features index), the DTH students, or both "
                             "(default: all; the pipeline runs one stage for the teacher and one per student)")
    parser.add_argument("--bits", type=int, nargs="+", default=None,
                        help="the DTH students' code lengths to measure (default: every k of params bits)")
    parser.add_argument("--quality", default="results/service/quality.json",
                        help="mAP of each index on the run's database (default: results/service/quality.json)")
    parser.add_argument("--timings", default="results/service/search.json",
                        help="search times per cell (default: results/service/search.json)")
    parser.add_argument("--curve", default="results/service/search-times.csv",
                        help="one CSV row per cell (default: results/service/search-times.csv)")


# --- the database items ---

def other_images(data: dict, manifest: dict, data_dir) -> np.ndarray | None:
    """uint8 (m, H, W, C): the pool's images that are neither query, train nor database of the run's
    split, in pool order; None where the protocol leaves none (its database is every image outside
    the query, or train, set: nothing is read) or the pool holds no images in memory (nus-wide)."""
    for key in ("dataset", "protocol", "split_seed"):
        if manifest.get(key) != data[key]:
            raise DthError(f"{data_dir}/manifest.json: {key} is {manifest.get(key)!r} but params 'data.{key}' is "
                           f"{data[key]!r}; accepted: data prepared from these params (run `dth prepare`)")
    spec = check_protocol(data["dataset"], data["protocol"])
    if spec.kind != "disjoint" or not spec.database_per_class:  # the database is every image but the others
        return None
    pool = read_pool(data)
    if pool.images is None:
        return None
    sets = split(data["dataset"], data["protocol"], pool.labels, pool.original_test, data["split_seed"])
    if len(sets["database"]) != manifest["counts"]["database"]:
        raise DthError(f"{data_dir}: {manifest['counts']['database']} database images, but the split of params "
                       f"'data' has {len(sets['database'])}; run `dth prepare` again")
    used = np.zeros(len(pool.labels), bool)
    for rows in sets.values():
        used[rows] = True
    return pool.images[~used]


def grow_features(real: np.ndarray, noise: float, seed: int, chunk: int = GROW_CHUNK):
    """float32 blocks of database features, without end: the real rows, then chunks of synthetic
    ones (a random real row + noise x the per-dimension std over the real rows)."""
    yield real
    std = (real.std(axis=0, dtype=np.float64) * noise).astype(np.float32)
    c = 0
    while True:
        rng = np.random.default_rng([seed, c])
        rows = rng.integers(0, len(real), chunk)
        block = rng.standard_normal((chunk, real.shape[1]), dtype=np.float32)
        block *= std
        block += real[rows]
        yield block
        c += 1


def project(head, x: np.ndarray) -> np.ndarray:
    """float32 (N, k): the hash layer `head` (an nn.Linear) on features x (N, dim), in fp32."""
    with torch.inference_mode():
        return head(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def database_blocks(real, heads: dict, n: int, noise: float, seed: int, stops=()):
    """(start, features, {k: hash outputs}) blocks of the first n database items, none across a stop.
    Each block of `grow_features` is projected whole before it is cut, so that an item's hash outputs
    do not depend on n or the stops (a matrix product's last bits can depend on its shape)."""
    done = 0
    for block in grow_features(real, noise, seed):
        if done >= n:
            return
        hashed = {k: project(head, block) for k, head in heads.items()}
        end = min(done + len(block), n)
        bounds = [done] + sorted(s for s in set(stops) if done < s < end) + [end]
        for a, b in zip(bounds, bounds[1:]):
            yield a, block[a - done:b - done], {k: h[a - done:b - done] for k, h in hashed.items()}
        done += len(block)


# --- quality ---

def real_valued_map(query, database, query_labels, database_labels, topk=None) -> float:
    """mAP@topk (None: all) ranking the database by L2 distance to each query (float64, ties by
    database index); relevant = sharing a label (multi-hot uint8 labels). Conventions of dth.metrics:
    AP = mean over the relevant items in the top topk of (relevant so far) / rank; none there: 0."""
    q, db = np.asarray(query, np.float64), np.asarray(database, np.float64)
    n = len(db)
    topk = n if topk is None else int(topk)
    db_norms = (db * db).sum(axis=1)
    ranks = np.arange(1, topk + 1, dtype=np.float64)
    dbl = np.asarray(database_labels, np.int32).T
    chunk = max(1, (1 << 22) // max(n, 1))
    aps = []
    for s in range(0, len(q), chunk):
        dist = db_norms[None, :] - 2.0 * (q[s:s + chunk] @ db.T)  # + |q|^2, the same along a row
        order = np.argsort(dist, axis=1, kind="stable")[:, :topk]
        rel = (np.asarray(query_labels[s:s + chunk], np.int32) @ dbl) > 0
        rel = np.take_along_axis(rel, order, axis=1)
        hits = np.cumsum(rel, axis=1)
        found = hits[:, -1]
        aps.append(np.where(found > 0, (rel * hits / ranks).sum(axis=1) / np.maximum(found, 1), 0.0))
    return float(np.mean(np.concatenate(aps))) if len(q) else 0.0


def space_quality(q_feat, db_feat, q_labels, db_labels, heads: dict, topk) -> dict:
    """{k: {binary, binary_stable, real, features}} of one feature space on the run's database."""
    features = round(real_valued_map(q_feat, db_feat, q_labels, db_labels, topk), 6)
    out = {}
    for k, head in heads.items():
        hq, hdb = project(head, q_feat), project(head, db_feat)
        qp, dbp = pack_codes(hq), pack_codes(hdb)
        out[str(k)] = {
            "binary": round(mean_average_precision(qp, dbp, q_labels, db_labels, topk=topk, ties="average", bits=k), 6),
            "binary_stable": round(mean_average_precision(qp, dbp, q_labels, db_labels, topk=topk, bits=k), 6),
            "real": round(real_valued_map(hq, hdb, q_labels, db_labels, topk), 6),
            "features": features}
    return out


# --- timing ---

def new_index(kind: str, dim: int):
    """An empty exact faiss index: binary (dim = k bits, whole bytes) or L2 over dim floats."""
    import faiss

    if kind == "binary":
        index = faiss.IndexBinaryFlat(8 * packed_width(dim))  # our padding bits are always 0
        index.use_heap = False  # counting search, as `dth search`: ties in database order
        return index
    return faiss.IndexFlatL2(dim)


def time_search(index, queries: np.ndarray, topk: int, service: dict) -> list[float]:
    """Seconds of each timed one-query search (see the module docstring)."""
    nq = len(queries)
    for i in range(SEARCH_WARMUP):
        index.search(queries[i % nq:i % nq + 1], topk)
    times, spent, i = [], 0.0, SEARCH_WARMUP
    while len(times) < service["search_queries"] and (len(times) < MIN_QUERIES or spent < service["search_seconds"]):
        q = queries[i % nq:i % nq + 1]
        start = time.perf_counter()
        index.search(q, topk)
        times.append(time.perf_counter() - start)
        spent += times[-1]
        i += 1
    return times


def measure_space(real, q_feat, heads: dict, sizes: list[int], service: dict, seed: int, bar) -> dict:
    """Search times of one feature space: {"features": {n: stats}, k: {"binary"|"real": {n: stats}}}."""
    topk, n_max = service["topk"], sizes[-1]
    out = {"features": {}}
    hashed = {k: np.empty((n_max, head.out_features), np.float32) for k, head in heads.items()}
    index = new_index("features", real.shape[1])
    for start, block, hs in database_blocks(real, heads, n_max, service["growth_noise"], seed, sizes):
        index.add(block)
        for k, h in hs.items():
            hashed[k][start:start + len(block)] = h
        if start + len(block) in sizes:
            out["features"][str(start + len(block))] = summary_us(time_search(index, q_feat, topk, service))
            bar.update()
    del index
    for k, head in heads.items():
        hq = project(head, q_feat)
        out[k] = {}
        for kind, db, q in (("real", hashed[k], hq), ("binary", pack_codes(hashed[k]), pack_codes(hq))):
            index, done, out[k][kind] = new_index(kind, k), 0, {}
            for n in sizes:
                index.add(np.ascontiguousarray(db[done:n]))
                done = n
                out[k][kind][str(n)] = summary_us(time_search(index, np.ascontiguousarray(q), topk, service))
                bar.update()
            del index
        del hashed[k]
    return out


# --- the stage ---

def encode_features(penultimate, images, batch_size: int, label: str, amp: str = "none") -> np.ndarray | None:
    """float32 (N, dim) penultimate features of uint8 images, in batches (fp32 unless `amp` is
    bf16); None for no images."""
    if images is None or len(images) == 0:
        return None
    with torch.inference_mode():
        out = forward_batches(lambda x: {"f": penultimate(x)}, images, batch_size=batch_size, device="cpu",
                              amp=amp, progress=label)
    return out["f"].numpy()


def curve_rows(model: str, bits, kind: str, cells: dict, nbytes: int) -> list[dict]:
    return [{"model": model, "bits": bits, "kind": kind, "database_size": int(n), "median_us": c["median"],
             "p95_us": c["p95"], "queries": c["queries"], "bytes_per_item": nbytes} for n, c in cells.items()]


def write_curve(path, rows: list[dict]) -> None:
    columns = ["model", "bits", "kind", "database_size", "median_us", "p95_us", "queries", "bytes_per_item"]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


def main(args) -> int:
    import faiss
    from tqdm import tqdm

    params = load_params(args.params)
    service, bits, seed, topk_eval = params["service"], params["bits"], params["seed"], params["evaluate"]["topk"]
    sizes = sorted(service["database_sizes"])
    if sizes[0] < service["topk"]:
        raise DthError(f"{args.params}: 'service.database_sizes' has {sizes[0]}, fewer items than 'service.topk' "
                       f"{service['topk']}; accepted: sizes >= service.topk")
    manifest = load_manifest(args.data)
    shape = tuple(int(s) for s in manifest["image_shape"])
    q_images, q_labels = load_split(args.data, "query")
    db_images, db_labels = load_split(args.data, "database")
    if topk_eval is not None and topk_eval > len(db_images):
        raise DthError(f"{args.params}: 'evaluate.topk' is {topk_eval}, larger than the database of {args.data} "
                       f"({len(db_images)} images); accepted: null or <= {len(db_images)}")
    student_bits = bits if args.bits is None else args.bits
    unknown = [k for k in student_bits if k not in bits]
    if unknown:
        raise DthError(f"--bits {unknown}: not in params 'bits' {bits}; accepted: some of {bits}")
    spaces = []
    if args.model in ("teacher", "all"):
        teacher = load_teacher(args.teacher, bits, shape)
        spaces.append(("teacher", teacher, teacher.features, {k: teacher.hash_layers[str(k)] for k in bits}))
    if args.model in ("dth", "all"):
        students = {k: load_student(fill(args.students, bits=k, seed=seed), k, shape) for k in student_bits}
        spaces += [("dth", s, partial(student_penultimate, s), {k: s.hash_layer}) for k, s in students.items()]
    extra = other_images(params["data"], manifest, args.data)
    n_real = len(db_images) + (0 if extra is None else len(extra))
    amp = resolve_amp(params["encode"]["amp"], torch.device("cpu"))[0]
    batch = params["encode"]["batch_size"]
    names = list(dict.fromkeys(name for name, *_ in spaces))
    quality = {"map": {n: {} for n in names}, "dims": {}, "bytes_per_item": {n: {} for n in names},
               "real_items": {str(n): min(n, n_real) for n in sizes},
               "queries": len(q_images), "database": len(db_images)}
    search_us, rows = {n: {} for n in names}, []
    cells = sum(1 + 2 * len(heads) for *_, heads in spaces)
    bar = tqdm(total=len(sizes) * cells, desc="service-search", unit="cell", file=sys.stderr)
    for name, model, penultimate, heads in spaces:
        model.to(memory_format=torch.channels_last)
        with loop_timer("encode"):
            q_feat = encode_features(penultimate, q_images, batch, f"{name} query", amp)
            db_feat = encode_features(penultimate, db_images, batch, f"{name} database", amp)
            extra_feat = encode_features(penultimate, extra, batch, f"{name} other images", amp)
        real = db_feat if extra_feat is None else np.concatenate([db_feat, extra_feat])
        del extra_feat
        dim = real.shape[1]
        quality["dims"][name] = dim
        with loop_timer("evaluate"):
            quality["map"][name].update(space_quality(q_feat, db_feat, q_labels, db_labels, heads, topk_eval))
        bar.set_postfix_str(f"{name} k={','.join(map(str, heads))}")
        with loop_timer("search"), one_thread():  # the encoding above ran on every thread
            measured = measure_space(real, q_feat, heads, sizes, service, seed, bar)
            cpu = cpu_info()
        del real, db_feat
        for k in heads:
            per_item = {"binary": packed_width(k), "real": 4 * k, "features": 4 * dim}
            quality["bytes_per_item"][name][str(k)] = per_item
            search_us[name][str(k)] = {**measured[k], "features": measured["features"]}
            for kind in ("binary", "real") + (("features",) if name == "dth" else ()):
                rows += curve_rows(name, k, kind, search_us[name][str(k)][kind], per_item[kind])
        if name == "teacher":  # one features index for every head: its rows once, without k
            rows += curve_rows(name, "", "features", measured["features"], 4 * dim)
    bar.close()

    largest = str(sizes[-1])
    speedup = {name: {k: round(c["features"][largest]["median"] / max(c["binary"][largest]["median"], 1e-3), 2)
                      for k, c in per_k.items()} for name, per_k in search_us.items()}
    timings = {"cpu": cpu, "threads": 1, "topk": service["topk"], "faiss": faiss.__version__,
               "database_sizes": {str(n): n for n in sizes}, "search_us": search_us,
               "speedup_binary_over_features": speedup}
    write_json(args.quality, quality)
    write_json(args.timings, timings)
    write_curve(args.curve, rows)
    for name, per_k in search_us.items():
        for k, c in per_k.items():
            m = quality["map"][name][k]
            print(f"{name}-{k} at {largest} items: binary {c['binary'][largest]['median']:.0f} us, real "
                  f"{c['real'][largest]['median']:.0f} us, features {c['features'][largest]['median']:.0f} us "
                  f"(x{speedup[name][k]}); mAP binary {m['binary']:.4f}, real {m['real']:.4f}, "
                  f"features {m['features']:.4f}")
    print(f"dth service-search: {args.quality}, {args.timings}, {args.curve}")
    return 0
