"""Train one student on a long constant learning rate, to judge claim 3 (distillation converges more slowly).

    dth convergence --method dth --bits 12 --seed 0 --data data/prepared --teacher models/teacher.pt \\
        --teacher-outputs models/teacher-train-hash.npz --curve results/plots/convergence/dth-12-s0.csv

The paper reports that the distilled student needs longer to converge than the DSH
baseline (400 against 100 epochs). The main students cannot tell: their cosine
schedule ends every run flat by construction. This stage trains the same student
(params `student`, `dsh`, `distill`: the same network, objective, optimizer, batch,
augmentation and warm-up) with the learning rate held at student.lr after the warm-up,
for `convergence.epochs` epochs, and validates after every epoch on a larger slice
(convergence.val_queries query images against convergence.val_database database
images). It writes the curve only (columns as every training curve, docs/artifacts.md);
the model is not kept. `dth report` reads the curves of every seed for each k of
`convergence.bits` and both methods, and reports the epochs each method needs to reach
`convergence.share` of its final validation mAP (the mean of the last tenth of the
epochs), with the verdict.
An interrupted run resumes from checkpoints/convergence-<method>-<bits>-s<seed>/last.pt.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dth.errors import DthError
from dth.hardware import resolve_device
from dth.losses import METHODS
from dth.params import load_params
from dth.students import train_student
from dth.train import remove_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bits", type=int, required=True, help="code length k (one of params convergence.bits)")
    p.add_argument("--method", required=True, choices=METHODS, help="dsh: baseline; dth: distilled from the teacher")
    p.add_argument("--seed", type=int, required=True, help="seed of initialisation and batch order (one of params seeds)")
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--teacher", default="models/teacher.pt", help="teacher checkpoint, method dth (default: %(default)s)")
    p.add_argument("--teacher-outputs", default=None,
                   help="teacher hash outputs on the train set (default: <teacher stem>-train-hash.npz beside --teacher)")
    p.add_argument("--curve", default=None,
                   help="per-epoch CSV (default: results/plots/convergence/<method>-<bits>-s<seed>.csv)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when present")
    p.add_argument("--checkpoints", default="checkpoints", help="folder of resume checkpoints (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    params = load_params(args.params)
    conv = params["convergence"]
    if args.bits not in conv["bits"]:
        raise DthError(f"--bits {args.bits}: not in params convergence.bits {conv['bits']}")
    name = f"{args.method}-{args.bits}-s{args.seed}"
    curve = Path(args.curve or f"results/plots/convergence/{name}.csv")
    section = {**params["student"], "schedule": "constant", "epochs": conv["epochs"]}
    run = train_student(params, args.method, args.bits, seed=args.seed, data=args.data,
                        device=resolve_device(args.device), name=f"convergence-{name}", curve=curve,
                        teacher=args.teacher, teacher_outputs=args.teacher_outputs, checkpoints=args.checkpoints,
                        section=section, validation=(conv["val_queries"], conv["val_database"]),
                        progress=not args.no_progress)
    remove_checkpoint(args.checkpoints, f"convergence-{name}")
    maps = [r["val_map"] for r in run.rows]
    print(f"convergence {name}: {len(maps)} epochs at constant lr {params['student']['lr']:g} in "
          f"{run.meta['train_seconds']:.0f} s; validation mAP {maps[0]:.4f} after epoch 1, {max(maps):.4f} at best, "
          f"{maps[-1]:.4f} at the end; wrote {curve}")
    return 0
