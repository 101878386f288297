"""Train one DSH student of k bits: distilled from the teacher (dth), or without it with the
DSH loss (dsh) or a compared method's objective (ce, dpsh, hashnet, dch, greedyhash, csq).

    dth train-student --bits 12 --method dsh --seed 0 --data data/prepared \\
        --out models/dsh-12-s0.pt --curve results/plots/train/dsh-12-s0.csv
    dth train-student --bits 12 --method dth --seed 0 --data data/prepared --teacher models/teacher.pt \\
        --out models/dth-12-s0.pt --curve results/plots/train/dth-12-s0.csv

Reads params.yaml `student` (epochs, optimizer, lr, schedule, augment, ...), `dsh`
(margin factor, alpha) and `distill`. Objectives (dth.losses.student_objective):
- dsh: the DSH pairwise loss alone, no teacher (its classifier head stays untrained,
  so the curve's accuracy columns are empty).
- dth: ce_weight * cross-entropy + weight * distillation of the frozen teacher's hash
  layer of the same k (+ pairwise_weight * DSH when non-zero).
- ce, dpsh, hashnet, dch, greedyhash, csq: dth/baselines.py, weights and learning rate
  from the method's own params.yaml section.
The distillation target is the teacher on the very view the student sees: with
distill.teacher_outputs: cache, --teacher-outputs holds the teacher on every train
image and on its horizontal flip (the fast choice on a CPU; student.augment none or
flip); with online the teacher encodes each augmented batch. (dth/students.py)
An interrupted run resumes from checkpoints/<out stem>/last.pt when rerun.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dth.hardware import resolve_device
from dth.models import save_model
from dth.names import student_name
from dth.params import load_params
from dth.students import METHODS, train_student
from dth.train import remove_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bits", type=int, required=True, help="code length k (one of params `bits`)")
    p.add_argument("--method", required=True, choices=METHODS, help="dth: distilled from the teacher; dsh and the compared methods "
                   "(dth/baselines.py): trained without it")
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--teacher", default="models/teacher.pt", help="teacher checkpoint, method dth (default: %(default)s)")
    p.add_argument("--teacher-outputs", default=None,
                   help="teacher hash outputs on the train set (default: <teacher stem>-train-hash.npz beside --teacher)")
    p.add_argument("--out", default=None, help="student checkpoint (default: models/<method>-<bits>-s<seed>.pt)")
    p.add_argument("--curve", default=None, help="per-epoch CSV (default: results/plots/train/<out stem>.csv)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when present")
    p.add_argument("--seed", type=int, default=None, help="seed of initialisation and batch order (default: params seed)")
    p.add_argument("--checkpoints", default="checkpoints", help="folder of resume checkpoints (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    params = load_params(args.params)
    seed = params["seed"] if args.seed is None else args.seed
    out = Path(args.out or f"models/{student_name(args.method, args.bits, seed)}.pt")
    curve = Path(args.curve or f"results/plots/train/{out.stem}.csv")
    run = train_student(params, args.method, args.bits, seed=seed, data=args.data, device=resolve_device(args.device),
                        name=out.stem, curve=curve, teacher=args.teacher, teacher_outputs=args.teacher_outputs,
                        checkpoints=args.checkpoints, progress=not args.no_progress)
    save_model(out, run.model, "student", run.config, {"stage": "train_student", **run.meta})
    remove_checkpoint(args.checkpoints, out.stem)
    print(f"{out.stem}: {len(run.rows)} epochs in {run.meta['train_seconds']:.1f} s; "
          f"val_map {run.rows[-1]['val_map']:.4f}; wrote {out}, {curve}")
    return 0
