"""Train one DSH student of k bits: the baseline (dsh) or distilled from the teacher (dth).

    dth train-student --bits 12 --method dsh --seed 0 --data data/prepared \\
        --out models/dsh-12-s0.pt --curve results/plots/train/dsh-12-s0.csv
    dth train-student --bits 12 --method dth --seed 0 --data data/prepared --teacher models/teacher.pt \\
        --out models/dth-12-s0.pt --curve results/plots/train/dth-12-s0.csv

Reads params.yaml `student` (epochs, optimizer, lr, schedule, ...), `dsh` (margin
factor, alpha) and `distill`. Objectives (dth.losses.student_objective):
- dsh: the DSH pairwise loss alone, no teacher (its classifier head stays untrained,
  so the curve's accuracy columns are empty).
- dth: ce_weight * cross-entropy + weight * distillation of the frozen teacher's hash
  layer of the same k (+ pairwise_weight * DSH when non-zero).
With distill.teacher_outputs: cache the teacher's outputs are read from
--teacher-outputs (written by train-teacher on the un-augmented train set; the fast
choice on a CPU); with online the teacher encodes each augmented batch.
An interrupted run resumes from checkpoints/<out stem>/last.pt when rerun.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from dth.data import load_manifest
from dth.errors import DthError
from dth.io import sha256_file
from dth.losses import METHODS, is_multi_label, student_objective, top1_accuracy
from dth.models import Student, load_model, save_model
from dth.params import load_params
from dth.train import (TrainConfig, Validation, fingerprint, fit, input_config, load_cached_teacher_outputs,
                       load_train_set, remove_checkpoint, resolve_device, seed_everything)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bits", type=int, required=True, help="code length k (one of params `bits`)")
    p.add_argument("--method", required=True, choices=METHODS, help="dsh: baseline; dth: distilled from the teacher")
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
    section = params["student"]
    k = args.bits
    if k not in params["bits"]:
        raise DthError(f"--bits {k}: not in params.yaml `bits` {params['bits']}")
    seed = params["seed"] if args.seed is None else args.seed
    out = Path(args.out or f"models/{args.method}-{k}-s{seed}.pt")
    curve = Path(args.curve or f"results/plots/train/{out.stem}.csv")
    device = resolve_device(args.device)
    manifest = load_manifest(args.data)
    train = load_train_set(args.data)
    multi_label = is_multi_label(train.labels)
    config = dict(bits=k, **input_config(manifest, train))
    cfg = TrainConfig.from_section(section)
    distill = params["distill"]

    teacher, teacher_sha = None, None
    if args.method == "dth":
        teacher_path = Path(args.teacher)
        if not teacher_path.exists():
            raise DthError(f"--teacher {teacher_path} does not exist: run `dth train-teacher` first")
        teacher_sha = sha256_file(teacher_path)
        if distill["teacher_outputs"] == "cache":
            cached = Path(args.teacher_outputs or teacher_path.with_name(f"{teacher_path.stem}-train-hash.npz"))
            train.extras["teacher_h"] = load_cached_teacher_outputs(cached, k, len(train), teacher_sha)
        else:
            teacher, _ = load_model(teacher_path)
            teacher.to(device)  # frozen, eval mode: encodes each augmented batch
            if k not in teacher.bits:
                raise DthError(f"{teacher_path} has hash heads for k in {teacher.bits}, not {k}")
            teacher.requires_grad_(False)

    def step_loss(m, x, y, extras):
        hs, logits = m(x)
        teacher_h = extras.get("teacher_h")
        if teacher is not None:
            with torch.no_grad():
                teacher_h = teacher.hash(x, k)
        loss = student_objective(args.method, hs, logits, y, teacher_h, params, multi_label)
        acc = top1_accuracy(logits.detach(), y) if args.method == "dth" else None
        return loss, acc

    val = Validation.from_prepared(args.data, section["val_queries"], section["val_database"],
                                   lambda m, x: {k: m(x)}, accuracy=(args.method == "dth"), amp=cfg.amp)
    run_id = fingerprint({"config": config, "student": section, "dsh": params["dsh"], "distill": distill,
                          "method": args.method, "teacher": teacher_sha, "manifest": manifest})
    seed_everything(seed)
    model = Student(**config)
    start = time.perf_counter()
    rows = fit(model, step_loss, train, cfg, seed=seed, device=device, name=out.stem, run_id=run_id,
               checkpoint_dir=args.checkpoints, curve=curve, validate=val, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    meta = {"stage": "train_student", "method": args.method, "bits": k, "seed": seed,
            "params": {"student": section, "dsh": params["dsh"], "distill": distill},
            "teacher_sha256": teacher_sha, "dataset": manifest.get("dataset"), "protocol": manifest.get("protocol"),
            "multi_label": multi_label, "final": rows[-1], "train_seconds": seconds, "device": device.type}
    save_model(out, model.cpu(), "student", config, meta)
    remove_checkpoint(args.checkpoints, out.stem)
    print(f"{out.stem}: {len(rows)} epochs in {seconds:.1f} s; val_map {rows[-1]['val_map']:.4f}; wrote {out}, {curve}")
    return 0

