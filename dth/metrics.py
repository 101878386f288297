"""Retrieval metrics of binary codes: mAP (stable or tie-aware), precision@N, precision-recall
by Hamming radius, precision within a radius. The protocol is docs/method.md, "Evaluation protocol".

    from dth.metrics import mean_average_precision, evaluate_codes
    m = mean_average_precision(q_codes, db_codes, q_labels, db_labels)              # mAP@all
    m = mean_average_precision(q_codes, db_codes, q_labels, db_labels, topk=5000)   # mAP@5000
    m = mean_average_precision(..., ties="average")       # tie-aware (McSherry & Najork 2008)
    m = mean_average_precision(qp, dbp, ql, dbl, bits=48) # packed codes (np.packbits, uint8)
    everything = evaluate_codes(qp, dbp, ql, dbl, bits=48, topk=None, precision_at=1000, radius=2)

Codes. Either unpacked, (N, k) arrays of any numeric or bool dtype (numpy or torch):
±1 codes, 0/1 codes or raw hash outputs, with bit = 1 where the value is > 0; or, when
`bits=k` is given, packed: uint8 (N, ceil(k/8)) as written by `dth.hamming.pack_codes`
and stored in codes files.

Labels. 1-D integer class ids, or 2-D (N, C) multi-hot (nonzero = has the label);
query and database labels are of the same kind. Relevance: a database item is
relevant to a query when they share at least one label.

Ranking. Ascending Hamming distance. `ties="stable"` breaks ties by database index
(the protocol). `ties="average"` is the tie-aware value: the expectation of the
metric over all orderings within tied distances (uniformly at random), which does
not depend on the database's order.

mAP@k (the DeepHash convention, `topk`): per query, the average over the relevant
items among the top `topk` of (relevant items up to that rank) / rank, i.e. the
denominator is the number of relevant items inside the top `topk`; a query with no
relevant item there scores 0; the mean runs over all queries. `topk=None` is mAP@all
(topk = database size; unlike DeepHash-pytorch's CalcTopMap with topk=-1, the last
item is not dropped).

Speed and memory. Queries are processed in chunks (a chunk's distances are uint8
(chunk, N)); nothing of size queries x database is ever held, and no float matrix of
that size is built. Per query the stable rank is a radix argsort of the uint8
distances; the tie-aware value and every radius metric need only per-distance
histograms (counts of all and of relevant items at each distance 0 .. k). Chunks run
on `num_threads` threads (numpy releases the GIL); results do not depend on it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dth.hamming import check_packed, code_bits, distance_dtype, to_words, hamming_distances_words

TIES = ("stable", "average")


# --- inputs ---

def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _words(query_codes, database_codes, bits):
    """Both code sets as uint64 words (N, W), and the code length k."""
    if bits is None:
        q, db = code_bits(query_codes), code_bits(database_codes)
        if q.shape[1] != db.shape[1]:
            raise ValueError(f"query codes have {q.shape[1]} bits but database codes {db.shape[1]}")
        bits = q.shape[1]
        q, db = np.packbits(q, axis=1), np.packbits(db, axis=1)
    else:
        bits = int(bits)
        if bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        q = check_packed(_as_array(query_codes), bits, "query codes")
        db = check_packed(_as_array(database_codes), bits, "database codes")
    return to_words(q), to_words(db), bits


class _Relevance:
    """Which database items share a label with a query: one bool row of length N at a time.

    Single-label data (1-D ids, or multi-hot with exactly one label per row) compares
    class ids; other multi-hot data ANDs labels packed into uint64 words.
    """

    def __init__(self, query_labels, database_labels, num_queries, num_database):
        ql, dbl = _as_array(query_labels), _as_array(database_labels)
        if ql.ndim != dbl.ndim or ql.ndim not in (1, 2):
            raise ValueError("labels must be both 1-D class ids or both 2-D (N, C) multi-hot, got "
                             f"shapes {ql.shape} and {dbl.shape}")
        if len(ql) != num_queries or len(dbl) != num_database:
            raise ValueError(f"{len(ql)} query labels for {num_queries} query codes, "
                             f"{len(dbl)} database labels for {num_database} database codes")
        if ql.ndim == 2:
            if ql.shape[1] != dbl.shape[1]:
                raise ValueError(f"query labels have {ql.shape[1]} classes, database labels {dbl.shape[1]}")
            qh, dbh = ql != 0, dbl != 0
            if (qh.sum(1) == 1).all() and (dbh.sum(1) == 1).all():
                ql, dbl = qh.argmax(1), dbh.argmax(1)  # single-label: class ids
            else:
                self.query_ids = None
                self.query_masks = to_words(np.packbits(qh, axis=1))
                self.database_masks = to_words(np.packbits(dbh, axis=1))
                self._and = np.empty(self.database_masks.shape, np.uint64)
                return
        if not np.issubdtype(ql.dtype, np.integer) or not np.issubdtype(dbl.dtype, np.integer):
            raise ValueError(f"1-D labels must be integer class ids, got {ql.dtype} and {dbl.dtype}")
        if min(ql.min(initial=0), dbl.min(initial=0)) < 0:
            raise ValueError("class ids must be >= 0")
        largest = int(max(ql.max(initial=0), dbl.max(initial=0)))
        ids = np.uint8 if largest < 256 else np.uint16 if largest < 65536 else np.int64  # small = fast compare
        self.query_ids = ql.astype(ids)
        self.database_ids = dbl.astype(ids)

    def row(self, i: int) -> np.ndarray:
        """bool (N,): relevance of every database item to query i."""
        if self.query_ids is not None:
            return self.database_ids == self.query_ids[i]
        # not thread-safe through self._and: each thread gets its own copy (see _copy)
        np.bitwise_and(self.database_masks, self.query_masks[i], out=self._and)
        return self._and.any(axis=1) if self._and.shape[1] > 1 else self._and[:, 0] != 0

    def copy_for_thread(self) -> "_Relevance":
        other = object.__new__(_Relevance)
        other.__dict__.update(self.__dict__)
        if self.query_ids is None:
            other._and = np.empty_like(self._and)
        return other


def _check_topk(topk, num_database: int) -> int:
    if topk is None:
        return num_database
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise ValueError(f"topk must be a positive integer or None (all), got {topk!r}")
    if topk > num_database:
        raise ValueError(f"topk={topk} is larger than the database ({num_database} items); "
                         f"use topk <= {num_database} or None for all")
    return int(topk)


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --- the scan: one pass over the queries, chunk by chunk ---

def _scan(query_words, database_words, relevance, bits, *, topk, stable_ap, histograms,
          precision_at, num_threads, chunk=64):
    """Per-query values of one pass; only what is asked for is computed.

    Returns a dict: "ap_stable" (Q,) float64 stable AP@topk; "hist_all", "hist_rel"
    (Q, bits+1) int64 counts of all / relevant items at each distance;
    "hits_at_n" (precision_at,) int64 relevant items within the top n, summed over queries.
    """
    nq, n = len(query_words), len(database_words)
    out = {}
    if stable_ap:
        out["ap_stable"] = np.zeros(nq, np.float64)
    if histograms:
        out["hist_all"] = np.zeros((nq, bits + 1), np.int64)
        out["hist_rel"] = np.zeros((nq, bits + 1), np.int64)
    need_order = stable_ap or precision_at
    dtype = distance_dtype(bits)
    ends = np.arange(1, bits + 1, dtype=dtype)  # a sorted row's bucket d ends where d + 1 starts
    ranks = np.arange(1, n + 1, dtype=np.float64)  # 1, 2, ..., N
    # chunk rows of uint8 distances; keep a chunk's (rows, N) matrix to ~16 MB
    chunk = max(1, min(chunk, (16 << 20) // max(n, 1)))
    starts = list(range(0, nq, chunk))

    def run(start):
        rel_of = relevance.copy_for_thread()
        stop = min(start + chunk, nq)
        dist = hamming_distances_words(query_words[start:stop], database_words, dtype=dtype)
        hit_counts = np.zeros(precision_at, np.int64) if precision_at else None
        for row, i in enumerate(range(start, stop)):
            d = dist[row]
            rel = rel_of.row(i)
            if not need_order:  # histograms only: count (2 * distance + relevant)
                key = d.astype(np.intp)
                key *= 2
                key += rel
                h = np.bincount(key, minlength=2 * (bits + 1)).reshape(bits + 1, 2)
                out["hist_all"][i] = h[:, 0] + h[:, 1]
                out["hist_rel"][i] = h[:, 1]
                continue
            order = np.argsort(d, kind="stable")  # radix sort: ascending distance, then index
            pos = np.flatnonzero(rel[order])      # 0-based ranks of the relevant items, ascending
            if stable_ap:
                found = pos[:np.searchsorted(pos, topk)] if topk < n else pos
                if found.size:  # mean over relevant items of (relevant so far) / rank
                    out["ap_stable"][i] = np.sum(ranks[:found.size] / ranks[found]) / found.size
            if precision_at:
                hit_counts += np.bincount(pos[:np.searchsorted(pos, precision_at)], minlength=precision_at)
            if histograms:  # bucket bounds in the sorted row, and relevant ranks per bucket
                bounds = np.concatenate([[0], np.searchsorted(d[order], ends), [n]])
                out["hist_all"][i] = np.diff(bounds)
                out["hist_rel"][i] = np.diff(np.searchsorted(pos, bounds))
        return hit_counts

    threads = max(1, int(num_threads or _default_threads()))
    if threads == 1 or len(starts) == 1:
        parts = [run(s) for s in starts]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(run, starts))
    if precision_at:  # relevant items within the top n, summed over queries, n = 1 .. precision_at
        counts = np.sum(parts, axis=0, dtype=np.int64) if parts else np.zeros(precision_at, np.int64)
        out["hits_at_n"] = np.cumsum(counts)
    return out


# --- tie-aware AP from per-distance histograms ---

def _harmonic(n: int) -> np.ndarray:
    """H[0 .. n] in extended precision: H[i] = 1 + 1/2 + ... + 1/i."""
    h = np.zeros(n + 1, np.longdouble)
    np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.longdouble), out=h[1:])
    return h


def _group_terms(harmonic, before, size):
    """A = sum_{j=1..size} 1/(before+j) and B = sum_{j=1..size} (j-1)/(before+j), elementwise."""
    a = harmonic[before + size] - harmonic[before]
    b = size - (before + 1) * a
    return a, b


def _expected_sum(a, b, size, rel, rel_before):
    """E[sum over the relevant items of a tie group of (relevant so far) / rank].

    A group of `size` items holding `rel` relevant ones, ranked after `before` items of
    which `rel_before` are relevant, in uniformly random order: position j (1-based in
    the group) is relevant with probability rel/size and then has, on average,
    (j-1)(rel-1)/(size-1) relevant items before it inside the group.
    """
    size_safe = np.maximum(size, 1)
    return (rel / size_safe) * ((rel_before + 1) * a + (rel - 1) / np.maximum(size - 1, 1) * b)


def _tie_average_ap(hist_all, hist_rel, topk):
    """Tie-aware AP@topk per query (McSherry & Najork 2008) from per-distance histograms."""
    hist_all = hist_all.astype(np.int64)
    hist_rel = hist_rel.astype(np.int64)
    n = int(hist_all[0].sum()) if len(hist_all) else 0
    harmonic = _harmonic(n)
    before = np.cumsum(hist_all, axis=1) - hist_all            # items at smaller distances
    rel_before = np.cumsum(hist_rel, axis=1) - hist_rel
    full = before + hist_all <= topk                           # groups wholly inside the top k
    a, b = _group_terms(harmonic, before, hist_all)
    contrib = np.where(full, _expected_sum(a, b, hist_all, hist_rel, rel_before), 0.0)
    sum_full = contrib.sum(axis=1).astype(np.float64)
    rel_full = np.where(full, hist_rel, 0).sum(axis=1)
    ap = np.divide(sum_full, rel_full, out=np.zeros(len(hist_all)), where=rel_full > 0)

    # the group cut by the top-k boundary: h of its first m items are relevant, h
    # hypergeometric; AP = E[(S_full + S_cut) / (R_full + h)]
    cut = (before < topk) & (before + hist_all > topk)
    for q, g in zip(*np.nonzero(cut)):
        size, rel, t = int(hist_all[q, g]), int(hist_rel[q, g]), int(before[q, g])
        m = topk - t
        lo, hi = max(0, m - (size - rel)), min(m, rel)
        h = np.arange(lo, hi + 1)
        # log P(h+1)/P(h) = log((rel-h)(m-h)) - log((h+1)(size-rel-m+h+1)), normalised
        log_ratio = (np.log((rel - h[:-1]) * (m - h[:-1]))
                     - np.log((h[:-1] + 1) * (size - rel - m + h[:-1] + 1)))
        logp = np.concatenate([[0.0], np.cumsum(log_ratio)])
        p = np.exp(logp - logp.max())
        p /= p.sum()
        a_m, b_m = _group_terms(harmonic, t, m)
        s_cut = (h / m) * ((rel_full[q] + 1) * float(a_m) + (h - 1) / max(m - 1, 1) * float(b_m))
        total = rel_full[q] + h
        value = np.divide(sum_full[q] + s_cut, total, out=np.zeros(len(h)), where=total > 0)
        ap[q] = float(np.sum(p * value))
    return ap


# --- public API ---

def average_precisions(query_codes, database_codes, query_labels, database_labels, topk=None,
                       ties="stable", bits=None, num_threads=None) -> np.ndarray:
    """AP@topk of every query, float64 (Q,); see `mean_average_precision` for the arguments."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
    qw, dbw, bits = _words(query_codes, database_codes, bits)
    relevance = _Relevance(query_labels, database_labels, len(qw), len(dbw))
    k = _check_topk(topk, len(dbw))
    if ties == "stable":
        scan = _scan(qw, dbw, relevance, bits, topk=k, stable_ap=True, histograms=False,
                     precision_at=0, num_threads=num_threads)
        return scan["ap_stable"]
    scan = _scan(qw, dbw, relevance, bits, topk=k, stable_ap=False, histograms=True,
                 precision_at=0, num_threads=num_threads)
    return _tie_average_ap(scan["hist_all"], scan["hist_rel"], k)


def mean_average_precision(query_codes, database_codes, query_labels, database_labels, topk=None,
                           ties="stable", bits=None, num_threads=None) -> float:
    """mAP@topk of the queries against the database ranked by Hamming distance.

    query_codes, database_codes: unpacked (N, k) arrays or tensors, bit = 1 where > 0
        (±1, 0/1 or raw hash outputs); or packed uint8 (N, ceil(k/8)) when `bits=k` is given.
    query_labels, database_labels: 1-D class ids or 2-D (N, C) multi-hot; relevant =
        sharing at least one label.
    topk: None for mAP@all, or the cut k of mAP@k (1 <= topk <= database size,
        else ValueError naming both numbers).
    ties: "stable" (ties broken by database index, the protocol) or "average" (the
        tie-aware expected AP over all orderings within tied distances).
    num_threads: threads over query chunks (default: the CPUs this process may use).
    """
    ap = average_precisions(query_codes, database_codes, query_labels, database_labels, topk=topk,
                            ties=ties, bits=bits, num_threads=num_threads)
    return float(np.mean(ap)) if len(ap) else 0.0


def precision_at_n(query_codes, database_codes, query_labels, database_labels, max_n=1000,
                   bits=None, num_threads=None) -> np.ndarray:
    """Mean precision@N over the queries for N = 1 .. max_n, float64 (max_n,); index N-1 is P@N.

    Stable ranking (ties by database index). max_n must not exceed the database size.
    """
    qw, dbw, bits = _words(query_codes, database_codes, bits)
    relevance = _Relevance(query_labels, database_labels, len(qw), len(dbw))
    max_n = _check_precision_at(max_n, len(dbw))
    scan = _scan(qw, dbw, relevance, bits, topk=len(dbw), stable_ap=False, histograms=False,
                 precision_at=max_n, num_threads=num_threads)
    return scan["hits_at_n"] / (np.arange(1, max_n + 1) * max(len(qw), 1))


def _check_precision_at(max_n, num_database):
    if isinstance(max_n, bool) or not isinstance(max_n, (int, np.integer)) or max_n < 1:
        raise ValueError(f"precision_at must be a positive integer, got {max_n!r}")
    if max_n > num_database:
        raise ValueError(f"precision_at={max_n} is larger than the database ({num_database} items)")
    return int(max_n)


def _radius_curves(hist_all, hist_rel):
    """precision, recall, empty-ball share (each float64 (k+1,)) by radius from histograms."""
    retrieved = np.cumsum(hist_all, axis=1)        # items within radius r, (Q, k+1)
    found = np.cumsum(hist_rel, axis=1)            # relevant items within radius r
    relevant = hist_rel.sum(axis=1, keepdims=True)
    precision = np.divide(found, retrieved, out=np.zeros(found.shape), where=retrieved > 0)
    recall = np.divide(found, relevant, out=np.zeros(found.shape), where=relevant > 0)
    return precision.mean(axis=0), recall.mean(axis=0), (retrieved == 0).mean(axis=0)


def pr_by_radius(query_codes, database_codes, query_labels, database_labels, bits=None,
                 num_threads=None) -> dict:
    """Precision and recall of the Hamming ball of radius r = 0 .. k, averaged over queries.

    Returns {"radius": int (k+1,), "precision", "recall", "empty_ball": float64 (k+1,)}.
    A query whose ball is empty has precision 0 (and is counted in "empty_ball", the
    share of such queries); a query with no relevant item in the database has recall 0.
    """
    qw, dbw, bits = _words(query_codes, database_codes, bits)
    relevance = _Relevance(query_labels, database_labels, len(qw), len(dbw))
    scan = _scan(qw, dbw, relevance, bits, topk=len(dbw), stable_ap=False, histograms=True,
                 precision_at=0, num_threads=num_threads)
    precision, recall, empty = _radius_curves(scan["hist_all"], scan["hist_rel"])
    return {"radius": np.arange(bits + 1), "precision": precision, "recall": recall, "empty_ball": empty}


def precision_within_radius(query_codes, database_codes, query_labels, database_labels, radius=2,
                            bits=None, num_threads=None) -> tuple[float, float]:
    """(mean precision within Hamming radius `radius`, share of queries with an empty ball).

    An empty ball counts as precision 0. A radius above k is the whole database.
    """
    curves = pr_by_radius(query_codes, database_codes, query_labels, database_labels, bits=bits,
                          num_threads=num_threads)
    r = min(int(radius), len(curves["radius"]) - 1)
    return float(curves["precision"][r]), float(curves["empty_ball"][r])


def evaluate_codes(query_codes, database_codes, query_labels, database_labels, bits=None,
                   topk=None, precision_at=1000, radius=2, num_threads=None) -> dict:
    """Every metric `dth evaluate` writes, from one pass over the queries.

    Returns {"metrics": flat dict (map, map_tie_average, precision_radius, empty_ball_radius,
    radius, bits, topk, num_queries, num_database), "pn": {"n", "precision"},
    "pr": {"radius", "precision", "recall", "empty_ball"}}. The keys never depend on the
    arguments' values (precision_radius is the precision within `radius`, whatever it is),
    so two runs with another radius or topk can be diffed key by key. `topk` in the
    metrics is the cut actually used (the database size for None).
    """
    qw, dbw, bits = _words(query_codes, database_codes, bits)
    relevance = _Relevance(query_labels, database_labels, len(qw), len(dbw))
    k = _check_topk(topk, len(dbw))
    precision_at = _check_precision_at(precision_at, len(dbw))
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
        raise ValueError(f"radius must be an integer >= 0, got {radius!r}")
    scan = _scan(qw, dbw, relevance, bits, topk=k, stable_ap=True, histograms=True,
                 precision_at=precision_at, num_threads=num_threads)
    ap_average = _tie_average_ap(scan["hist_all"], scan["hist_rel"], k)
    precision, recall, empty = _radius_curves(scan["hist_all"], scan["hist_rel"])
    r = min(int(radius), bits)
    nq = len(qw)
    metrics = {
        "map": float(np.mean(scan["ap_stable"])) if nq else 0.0,
        "map_tie_average": float(np.mean(ap_average)) if nq else 0.0,
        "precision_radius": float(precision[r]),
        "empty_ball_radius": float(empty[r]),
        "radius": int(radius),
        "bits": int(bits),
        "topk": int(k),
        "num_queries": int(nq),
        "num_database": int(len(dbw)),
    }
    n = np.arange(1, precision_at + 1)
    return {
        "metrics": metrics,
        "pn": {"n": n, "precision": scan["hits_at_n"] / (n * max(nq, 1))},
        "pr": {"radius": np.arange(bits + 1), "precision": precision, "recall": recall,
               "empty_ball": empty},
    }
