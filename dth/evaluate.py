"""Evaluate a codes file: mAP (stable and tie-aware), precision@N, precision-recall by radius.

    dth evaluate --codes codes/dth-12-s0.npz --out results/metrics/dth-12-s0.json \\
        --pr results/plots/pr/dth-12-s0.csv --pn results/plots/pn/dth-12-s0.csv
    dth evaluate --model models/dth-12-s0.pt --data data/prepared --codes codes/dth-12-s0.npz \\
        --speed results/speed/dth-12-s0.json --out results/metrics/dth-12-s0.json ...

With --model, the model is first encoded into --codes exactly as `dth encode` does
(params `encode`, --speed its speed JSON), and that codes file is then evaluated: one
process and one pipeline stage per model instead of two (the DAG's evaluate_student and
evaluate_ternary stages; the teacher, whose heads are encoded in one pass, keeps its own
encode_teacher stage).

The protocol is docs/method.md, "Evaluation protocol" (dth/metrics.py has the details):
the database is ranked by Hamming distance to each query, ties by database index;
relevant = sharing at least one label.

Writes (atomically):
    --out   metrics JSON: only the numbers worth diffing, under keys that never depend on
            params (so `dvc metrics diff` / `dvc exp diff` compare any two runs):
            map (mAP@topk, stable ties), map_tie_average (the expected mAP over all
            orders within tied distances), precision_radius (mean precision within
            Hamming radius evaluate.radius, an empty ball counting 0), empty_ball_radius
            (share of queries whose ball is empty). What they were measured with (k,
            topk, radius, counts) is in params.yaml and the codes file, and printed.
    --pr    CSV radius,precision,recall for r = 0 .. k
    --pn    CSV n,precision for N = 1 .. precision_at

params (evaluate:): topk (null = mAP@all), precision_at (longest N of the P@N curve;
cut to the database size if larger), radius (the r of precision_radius).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from dth.errors import DthError
from dth.hamming import load_codes
from dth.io import atomic_path, write_json
from dth.metrics import evaluate_codes
from dth.params import load_params
from dth.timing import loop_timer

# the keys of a metrics JSON (docs/artifacts.md): the same for every params
METRIC_KEYS = ("map", "map_tie_average", "precision_radius", "empty_ball_radius")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--codes", required=True,
                        help="codes file written by `dth encode` (with --model: written here first)")
    parser.add_argument("--model", default=None,
                        help="model file (.pt or packed ternary .npz) to encode into --codes before evaluating")
    parser.add_argument("--data", default="data/prepared",
                        help="with --model: the prepared data folder (default: data/prepared)")
    parser.add_argument("--speed", default=None, help="with --model: JSON of the encoding speed")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="with --model: where to encode; auto = cuda when available (default: auto)")
    parser.add_argument("--out", default=None, help="metrics JSON (default: results/metrics/<model>.json)")
    parser.add_argument("--pr", default=None, help="PR curve CSV (default: results/plots/pr/<model>.csv)")
    parser.add_argument("--pn", default=None, help="P@N curve CSV (default: results/plots/pn/<model>.csv)")
    parser.add_argument("--threads", type=int, default=None, help="threads (default: the CPUs available)")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")


def write_csv(path: str | Path, table: dict) -> None:
    """Columns of equal length as CSV, floats with 10 significant digits (the csv module, not
    pandas: evaluate runs once per model, and importing pandas would double its start-up)."""
    columns = [np.asarray(v).tolist() for v in table.values()]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(list(table))
            for row in zip(*columns):
                out.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])


def main(args) -> int:
    all_params = load_params(args.params)
    params = all_params["evaluate"]
    if args.model is not None:
        if "{bits}" in args.codes:
            raise DthError(f"--codes {args.codes}: with --model, evaluate encodes one head into one file; "
                           "encode a several-head teacher with `dth encode` and evaluate each head's file")
        from dth.encode import encode_model
        encode_model(args.model, args.data, args.codes, all_params["encode"], speed=args.speed, device=args.device)
    elif args.speed is not None:
        raise DthError("--speed is the encoding speed of --model; without --model nothing is encoded")
    codes = load_codes(args.codes)
    name = codes["model"]
    num_database = len(codes["database_codes"])
    topk = params["topk"]
    if topk is not None and topk > num_database:
        raise DthError(f"{args.params}: evaluate.topk is {topk} but {args.codes} has only {num_database} "
                       f"database items; use topk <= {num_database} or null (mAP@all)")
    precision_at = min(params["precision_at"], num_database)
    if precision_at < params["precision_at"]:
        print(f"dth evaluate: note: precision@N computed for N <= {precision_at}, the database size "
              f"(evaluate.precision_at is {params['precision_at']})")

    with loop_timer("evaluate"):
        result = evaluate_codes(codes["query_codes"], codes["database_codes"], codes["query_labels"],
                                codes["database_labels"], bits=codes["bits"], topk=topk,
                                precision_at=precision_at, radius=params["radius"], num_threads=args.threads)
    found = result["metrics"]
    metrics = {key: found[key] for key in METRIC_KEYS}

    out = Path(args.out or f"results/metrics/{name}.json")
    write_csv(args.pr or f"results/plots/pr/{name}.csv",
              {"radius": result["pr"]["radius"], "precision": result["pr"]["precision"],
               "recall": result["pr"]["recall"]})
    write_csv(args.pn or f"results/plots/pn/{name}.csv",
              {"n": result["pn"]["n"], "precision": result["pn"]["precision"]})
    write_json(out, metrics)  # last: its presence says the curves are there too
    print(f"dth evaluate: {name}: {found['bits']} bits, {found['num_queries']} queries, {found['num_database']} "
          f"database items; mAP@{'all' if topk is None else topk} {metrics['map']:.4f} "
          f"(tie-aware {metrics['map_tie_average']:.4f}), precision within radius {found['radius']} "
          f"{metrics['precision_radius']:.4f} ({metrics['empty_ball_radius']:.1%} empty balls) -> {out}")
    return 0
