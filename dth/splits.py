"""Split protocols: which images of a dataset's pool are the query, train and database sets.

    from dth.splits import check_protocol, split
    check_protocol("cifar10", "1k")                           # DthError if unknown
    sets = split("cifar10", "1k", pool.labels, pool.original_test, seed=0)
    sets["query"], sets["train"], sets["database"]            # int64 index arrays into the pool

The pool is every image of the dataset (official train set first, then test set).
Per-class counts are drawn with numpy.random.default_rng(data.split_seed), so the
same seed gives the same split on any machine (DeepHash-pytorch's protocols, seeded).

| dataset       | protocol | query               | train                        | database                  | disjoint |
|---------------|----------|---------------------|------------------------------|---------------------------|----------|
| fashion-mnist | 1k       | 1,000 (100/class)   | 5,000 (500/class)            | the other 64,000          | yes      |
| fashion-mnist | full     | 10,000 official test| 60,000 official train        | the same 60,000           | q vs db  |
| fashion-mnist | 1k-10k   | 1,000 (100/class)   | 5,000 (500/class)            | 10,000 (1,000/class) of the other 64,000 | yes |
| cifar10       | 1k       | 1,000 (100/class)   | 5,000 (500/class)            | the other 54,000          | yes      |
| cifar10       | 59k      | 1,000 (100/class)   | 5,000 (500/class) of the db  | the other 59,000          | q vs db  |
| cifar10       | full     | 10,000 official test| 50,000 official train        | the same 50,000           | q vs db  |
| nus-wide      | 2100     | 2,100 (100/label)   | 10,500 (500/label)           | the rest (~183k)          | yes      |

Sampled protocols (1k, 1k-10k, 59k, 2100) use one algorithm: for each class c in
order 0, 1, ..., the images that carry label c and are not yet taken by an earlier
class are permuted with the seeded generator; the first 100 go to the query set, the
next 500 to the train set (and, for 1k-10k, the next 1,000 to the database). The
database is every image not in the query set (59k) or in neither set (1k, 2100).
For single-label data this is plain per-class sampling. For multi-label NUS-WIDE it
samples without replacement and without reuse across classes, so an image picked for
label 3 is not picked again for label 7; a picked image may carry other labels too,
so a set's count for a label can exceed 100/500 (the manifest records the real class
counts). Each set of a sampled protocol is then put in a seeded random order (stages
that use "the first N" of a set get a random sample). `full` keeps the official order
and ignores the seed.

`1k-10k` (the default run's) is `1k` with a class-balanced database of 10,000 images
instead of the other 64,000: mAP@all over a random sample of the database estimates
the same quantity, and encoding 6x fewer images per model is what lets the default
run (48 models to encode) fit in 20 minutes on 2 CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dth.errors import DthError


@dataclass(frozen=True)
class Protocol:
    kind: str                   # "disjoint" | "train_from_database" | "official"
    query_per_class: int = 0    # images per class drawn for the query set
    train_per_class: int = 0    # images per class drawn for the train set
    database_per_class: int = 0  # images per class drawn for the database (0: all the rest)


PROTOCOLS: dict[str, dict[str, Protocol]] = {
    "fashion-mnist": {"1k": Protocol("disjoint", 100, 500), "full": Protocol("official"),
                      "1k-10k": Protocol("disjoint", 100, 500, 1000)},
    "cifar10": {"1k": Protocol("disjoint", 100, 500), "59k": Protocol("train_from_database", 100, 500),
                "full": Protocol("official")},
    "nus-wide": {"2100": Protocol("disjoint", 100, 500)},
}


def check_protocol(dataset: str, protocol: str) -> Protocol:
    """The named protocol, or a DthError naming the key and the accepted values."""
    if dataset not in PROTOCOLS:
        raise DthError(f"params 'data.dataset' is {dataset!r}; accepted: " + ", ".join(map(repr, PROTOCOLS)))
    accepted = PROTOCOLS[dataset]
    if protocol not in accepted:
        raise DthError(f"params 'data.protocol' is {protocol!r}; accepted for {dataset}: "
                       + ", ".join(map(repr, accepted)))
    return accepted[protocol]


def split(dataset: str, protocol: str, labels: np.ndarray, original_test: np.ndarray,
          seed: int) -> dict[str, np.ndarray]:
    """Index arrays (int64) into the pool for the "query", "train" and "database" sets."""
    spec = check_protocol(dataset, protocol)
    if spec.kind == "official":
        test = np.flatnonzero(original_test)
        train = np.flatnonzero(~original_test)
        if len(test) == 0:
            raise DthError(f"params 'data.protocol' is {protocol!r}, which needs the official test set, and "
                           f"{dataset} has none here; accepted: " + ", ".join(map(repr, PROTOCOLS[dataset])))
        return {"query": test, "train": train, "database": train.copy()}

    rng = np.random.default_rng(seed)
    n, num_classes = labels.shape
    per_class = spec.query_per_class + spec.train_per_class + spec.database_per_class
    taken = np.zeros(n, bool)
    query, train, database = [], [], []
    for c in range(num_classes):
        candidates = np.flatnonzero((labels[:, c] > 0) & ~taken)
        if len(candidates) < per_class:
            others = [p for p in PROTOCOLS[dataset] if p != protocol]
            raise DthError(
                f"params 'data.protocol' is {protocol!r}, which needs {spec.query_per_class} query + "
                f"{spec.train_per_class} train" + (f" + {spec.database_per_class} database" if spec.database_per_class
                                                   else "") + f" = {per_class} images of class {c}, but the "
                f"{dataset} pool has only "
                f"{len(candidates)}{' not taken by earlier classes' if c else ''}; accepted: a pool with at least "
                f"{per_class} images per class" + (", or protocol " + ", ".join(map(repr, others)) if others else ""))
        picked = rng.permutation(candidates)[:per_class]
        query.append(picked[:spec.query_per_class])
        train.append(picked[spec.query_per_class:spec.query_per_class + spec.train_per_class])
        database.append(picked[spec.query_per_class + spec.train_per_class:])
        taken[picked] = True
    query_idx = np.concatenate(query)
    train_idx = np.concatenate(train)
    in_query = np.zeros(n, bool)
    in_query[query_idx] = True
    if spec.database_per_class:
        database_idx = np.concatenate(database)
    else:
        database_idx = np.flatnonzero(~in_query if spec.kind == "train_from_database" else ~taken)
    return {"query": rng.permutation(query_idx).astype(np.int64),
            "train": rng.permutation(train_idx).astype(np.int64),
            "database": rng.permutation(database_idx).astype(np.int64)}
