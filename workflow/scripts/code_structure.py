"""How the codes of a model sit around their classes: why two methods that classify the
queries about as well differ in mAP (docs/baselines.md, CSQ).

    .venv/bin/python workflow/scripts/code_structure.py codes/csq-32-s0.npz codes/dsh-32-s0.npz
    .venv/bin/python workflow/scripts/code_structure.py codes/*-32-s*.npz --out results/code_structure.csv

Per codes file (written by `dth encode`, single-label data), one line:
    distinct      distinct codes among the database images
    at_mode       share of database images whose code is the most frequent code of their class
                  (the class's "modal code": for CSQ, its hash centre once training has converged)
    nearest_acc   share of queries whose code is nearest (Hamming) to the modal code of their
                  own class: how well the codes classify
    map           mAP@all, ties by database index (as `dth evaluate`)
    map_right     mAP over the queries that nearest_acc counts as right ...
    map_wrong     ... and over the others
    off_rank      mean rank percentile (0 = first, 100 = last) of the relevant database images
                  that are not at their class's modal code, over the right queries: where a
                  method leaves the images it is unsure of
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from dth.errors import DthError  # noqa: E402
from dth.hamming import load_codes  # noqa: E402
from dth.metrics import average_precisions  # noqa: E402


def structure(path: str) -> dict:
    data = load_codes(path)
    bits = data["bits"]
    if (data["query_labels"].sum(1) != 1).any() or (data["database_labels"].sum(1) != 1).any():
        raise DthError(f"{path}: multi-label codes; this analysis needs one class per image")
    db = np.unpackbits(data["database_codes"], axis=1)[:, :bits]
    q = np.unpackbits(data["query_codes"], axis=1)[:, :bits]
    yd, yq = data["database_labels"].argmax(1), data["query_labels"].argmax(1)
    keys = [row.tobytes() for row in db]
    classes = np.unique(yd)
    modal = {c: Counter(keys[i] for i in np.flatnonzero(yd == c)).most_common(1)[0][0] for c in classes}
    at_mode = np.array([keys[i] == modal[yd[i]] for i in range(len(keys))])
    centres = np.stack([np.frombuffer(modal[c], dtype=np.uint8) for c in classes])
    nearest = classes[(q[:, None, :] != centres[None]).sum(-1).argmin(1)]
    right = nearest == yq
    ap = average_precisions(data["query_codes"], data["database_codes"], data["query_labels"],
                            data["database_labels"], bits=bits)
    # rank percentile of the relevant database images off their modal code, right queries only
    ranks = []
    for i in np.flatnonzero(right)[:200]:
        d = (q[i][None, :] != db).sum(1)
        order = np.argsort(d, kind="stable")
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        off = (yd == yq[i]) & ~at_mode
        if off.any():
            ranks.append(100.0 * position[off].mean() / (len(order) - 1))
    return {"distinct": len(set(keys)), "at_mode": at_mode.mean(), "nearest_acc": right.mean(),
            "map": ap.mean(), "map_right": ap[right].mean() if right.any() else float("nan"),
            "map_wrong": ap[~right].mean() if (~right).any() else float("nan"),
            "off_rank": float(np.mean(ranks)) if ranks else float("nan")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("codes", nargs="+", help="codes files (.npz) written by `dth encode`")
    p.add_argument("--out", help="also write the table to this CSV file (one row per codes file)")
    a = p.parse_args()
    rows = []
    print(f"{'codes':<28} {'distinct':>8} {'at_mode':>8} {'nearest_acc':>11} {'map':>7} {'map_right':>9} "
          f"{'map_wrong':>9} {'off_rank':>8}")
    for path in a.codes:
        try:
            s = structure(path)
        except DthError as e:
            sys.exit(str(e))
        print(f"{Path(path).stem:<28} {s['distinct']:>8} {s['at_mode']:>8.3f} {s['nearest_acc']:>11.3f} "
              f"{s['map']:>7.4f} {s['map_right']:>9.4f} {s['map_wrong']:>9.4f} {s['off_rank']:>8.1f}")
        rows.append({"codes": Path(path).stem, **s})
    if a.out:
        pd.DataFrame(rows).to_csv(a.out, index=False, float_format="%.4f")
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
