"""Fine-tune a DTH student with ternary (TTQ) weights, then write it packed at 2 bits per weight.

    dth ternarize --bits 12 --t 0.05 --layers fc --student models/dth-12-s0.pt \\
        --teacher-outputs models/teacher-train-hash.npz --data data/prepared \\
        --out models/ttq-fc-12-t0.05.pt --packed models/ttq-fc-12-t0.05.npz \\
        --report results/ternary/ttq-fc-12-t0.05.json --curve results/plots/train/ttq-fc-12-t0.05.csv

Reads params.yaml `quantize` (layers, epochs, lr of the latent weights, scale_lr of
Wp/Wn), `student` (batch_size, schedule, augment, amp, validation slice) and the
student's own objective from `distill` / `dsh` (dth.losses.student_objective with
method dth: cross-entropy + distillation from the teacher's hash layer).

Steps: load the full-precision student; swap the layers of --layers (fc: every
Linear; fc+conv: also the convolutions; all: every Linear/Conv) for TTQ layers at
threshold --t (dth/ternary.py); fine-tune `quantize.epochs` epochs with Adam through
the shared loop (dth.train.fit: seeded, per-epoch curve, resumes from
checkpoints/<out stem>/last.pt); then write
- --out     a dth-model/1 checkpoint of the dense ternary model (dth encode reads it;
            the latent weights and scales are kept in meta["ternary"]),
- --packed  the 2-bit export (format in dth/ternary.py; dth.ternary.load_packed),
- --report  JSON: which layers were ternarised, per-layer fractions of +, 0, - weights,
            Wp, Wn, bytes fp32 vs ternary, compression ratios of the fc layers and of
            the whole model (payload and bytes on disk), validation mAP of the
            full-precision student, of the ternary model before and after fine-tuning,
            and a check that the packed file gives the same codes as the model in memory.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from dth import ternary
from dth.data import forward_batches, load_manifest
from dth.errors import DthError
from dth.io import sha256_file, write_json
from dth.losses import is_multi_label
from dth.models import load_model
from dth.names import student_name, ternary_name
from dth.params import LAYER_SETS, load_params
from dth.timing import loop_timer
from dth.hardware import resolve_device
from dth.train import (TrainConfig, Validation, distillation_targets, fingerprint, fit, load_train_set,
                       remove_checkpoint, resolve_precision, seed_everything, student_step, write_curve)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bits", type=int, required=True, help="code length k of the student (one of params `bits`)")
    p.add_argument("--t", type=float, required=True, help="TTQ threshold: delta = t * max|w| per layer, in (0, 1)")
    p.add_argument("--layers", default=None, choices=LAYER_SETS,
                   help="layers to ternarise (default: params quantize.layers)")
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--student", default=None,
                   help="full-precision DTH student checkpoint (default: models/dth-<bits>-s<params seed>.pt)")
    p.add_argument("--teacher", default=None,
                   help="teacher checkpoint: needed with distill.teacher_outputs online; with cache it only "
                        "locates <teacher stem>-train-hash.npz when --teacher-outputs is not given")
    p.add_argument("--teacher-outputs", default=None,
                   help="teacher hash outputs on the train set, written by train-teacher "
                        "(default: models/teacher-train-hash.npz)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--out", default=None, help="ternary checkpoint (default: models/ttq-<layers>-<bits>-t<t>.pt)")
    p.add_argument("--packed", default=None, help="packed 2-bit export (default: --out with .npz)")
    p.add_argument("--report", default=None, help="size/sparsity JSON (default: results/ternary/<out stem>.json)")
    p.add_argument("--curve", default=None, help="per-epoch CSV (default: results/plots/train/<out stem>.csv)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when present")
    p.add_argument("--seed", type=int, default=None, help="seed of the batch order (default: params seed)")
    p.add_argument("--checkpoints", default="checkpoints", help="folder of resume checkpoints (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def load_student(path: Path, bits: int):
    if not path.exists():
        raise DthError(f"--student {path} does not exist: run `dth train-student --method dth --bits {bits}` first")
    try:
        model, ckpt = load_model(path)
    except ValueError as e:
        raise DthError(str(e)) from None
    if ckpt["kind"] != "student":
        raise DthError(f"--student {path} is a {ckpt['kind']} checkpoint, not a student")
    if "ternary" in ckpt.get("meta", {}):
        raise DthError(f"--student {path} is already ternary; give the full-precision DTH student")
    if model.bits != bits:
        raise DthError(f"--student {path} has k={model.bits} bits, not --bits {bits}")
    return model, ckpt


def codes_of(model, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Binary codes (h > 0) of uint8 NCHW images, on the CPU: fp32, eval mode, the input in
    the default (NCHW) memory layout."""
    model.eval()
    out = forward_batches(lambda x: {"h": model.hash(x)}, images, batch_size=batch_size, device="cpu",
                          channels_last=False)
    return out["h"] > 0


def main(args) -> int:
    params = load_params(args.params)
    quantize, section, distill = params["quantize"], params["student"], params["distill"]
    k, t = args.bits, args.t
    if k not in params["bits"]:
        raise DthError(f"--bits {k}: not in params.yaml `bits` {params['bits']}")
    if not 0.0 < t < 1.0:
        raise DthError(f"--t {t}: the threshold must be in (0, 1) (delta = t * max|w|)")
    layer_set = args.layers or quantize["layers"]
    seed = params["seed"] if args.seed is None else args.seed
    student_path = Path(args.student or f"models/{student_name('dth', k, params['seed'])}.pt")
    out = Path(args.out or f"models/{ternary_name(layer_set, k, t)}.pt")
    packed = Path(args.packed or out.with_suffix(".npz"))
    report_path = Path(args.report or f"results/ternary/{out.stem}.json")
    curve = Path(args.curve or f"results/plots/train/{out.stem}.csv")
    device = resolve_device(args.device)

    model, student_ckpt = load_student(student_path, k)
    config = student_ckpt["config"]
    manifest = load_manifest(args.data)
    train = load_train_set(args.data)
    multi_label = is_multi_label(train.labels)

    # the teacher's hash outputs for the distillation term, as the student was trained
    # (cache: train.extras["teacher_h"] and its flips; online: the frozen teacher, else None)
    teacher_sha = student_ckpt["meta"].get("teacher_sha256")
    teacher = distillation_targets(train, distill, k, teacher=args.teacher, teacher_outputs=args.teacher_outputs,
                                   teacher_sha256=teacher_sha, device=device)

    cfg = TrainConfig.from_section(section, epochs=quantize["epochs"], optimizer="adam", lr=quantize["lr"],
                                   weight_decay=0.0, warmup_epochs=0, decay_epochs=0)
    cfg = resolve_precision(cfg, device, out.stem)  # amp auto -> bf16 or fp32, logged
    val = Validation.from_prepared(args.data, section["val_queries"], section["val_database"],
                                   lambda m, x: {k: m(x)}, amp=cfg.amp)
    seed_everything(seed)
    start = time.perf_counter()
    with loop_timer("train"):  # validation of the starting points counts as the work, too
        before = {"full_precision": val(model.to(device), device)}
        names = ternary.ternarize_model(model, layer_set, t)
        before["ternary_initial"] = val(model, device)

    def step_loss(m, x, y, extras):
        ternary.clamp_scales_(m)  # Wp, Wn are magnitudes: keep them > 0 after the previous step
        return student_step(m, x, y, extras, "dth", params, multi_label, k, teacher=teacher)  # the DTH student's

    run_id = fingerprint({"student": sha256_file(student_path), "t": t, "layers": layer_set, "quantize": quantize,
                          "train": section, "distill": distill, "dsh": params["dsh"], "manifest": manifest})
    if cfg.epochs > 0:
        with loop_timer("train"):
            rows = fit(model, step_loss, train, cfg, seed=seed, device=device, name=out.stem, run_id=run_id,
                       checkpoint_dir=args.checkpoints, curve=curve, validate=val, progress=not args.no_progress,
                       param_groups=ternary.param_groups(model, quantize["lr"], quantize["scale_lr"]))
    else:  # post-training ternarisation only: the initial scales, no fine-tuning
        rows = []
        write_curve(curve, rows)
    ternary.clamp_scales_(model)
    model = model.cpu().eval()
    seconds = time.perf_counter() - start

    meta = {"stage": "ternarize", "bits": k, "t": t, "layer_set": layer_set, "seed": seed,
            "student": str(student_path), "student_sha256": sha256_file(student_path),
            "teacher_sha256": teacher_sha, "params": {"quantize": quantize, "distill": distill},
            "dataset": manifest.get("dataset"), "protocol": manifest.get("protocol")}
    ternary.save_ternary_checkpoint(out, model, "student", config, layer_set, meta)
    ternary.export_packed(model, packed, "student", config, layer_set, meta)

    # the packed file alone must give the codes of the model in memory, bit for bit
    query = val.query
    identical = bool(torch.equal(codes_of(model, query), codes_of(ternary.load_packed(packed), query)))
    if not identical:
        raise RuntimeError(f"{packed}: the packed model's codes differ from the fine-tuned model's")

    report = ternary.ternary_report(model, layer_set, packed)
    report.update({
        "model": out.stem, "bits": k, "t": t, "epochs": cfg.epochs, "seed": seed,
        "student": str(student_path), "packed": str(packed),
        "val_map_full_precision": before["full_precision"]["val_map"],
        "val_map_ternary_initial": before["ternary_initial"]["val_map"],
        "val_map_ternary": (rows[-1]["val_map"] if rows else before["ternary_initial"]["val_map"]),
        "val_slice": [section["val_queries"], section["val_database"]],
        "packed_codes_identical": identical, "checked_queries": len(query),
        "finetune_seconds": seconds,
    })
    assert report["ternary_layers"] == names
    write_json(report_path, report)
    remove_checkpoint(args.checkpoints, out.stem)
    print(f"{out.stem}: {len(rows)} epochs in {seconds:.1f} s; val_map {report['val_map_full_precision']:.4f} "
          f"(full precision) -> {report['val_map_ternary']:.4f}; fc {report['fc_compression']:.1f}x, "
          f"model {report['model_compression']:.1f}x smaller; wrote {out}, {packed}, {report_path}, {curve}")
    return 0
