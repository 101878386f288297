"""Training one DSH student (the network of dth.models.Student) for a method: the library
behind the train-student stage.

    from dth.students import train_student
    run = train_student(params, "dth", 12, seed=0, data="data/prepared", teacher="models/teacher.pt",
                        teacher_outputs="models/teacher-train-hash.npz", device=torch.device("cpu"),
                        name="dth-12-s0", curve="results/plots/train/dth-12-s0.csv")
    run.model, run.config, run.rows, run.meta     # trained model (eval mode, CPU), constructor kwargs, curve, metadata

Objectives (dth.losses.student_objective, dth.baselines.baseline_loss):
- dsh: the DSH pairwise loss alone, no teacher (the classifier head stays untrained,
  so the curve's accuracy columns are empty).
- dth: ce_weight * cross-entropy + weight * distillation of the frozen teacher's hash
  layer of the same k (+ pairwise_weight * DSH when non-zero).
- ce, dpsh, hashnet, dch, greedyhash, csq: the compared methods (dth/baselines.py), no
  teacher, each with its own learning rate params[method].lr, L2 penalty params[method].weight_decay
  and length params[method].epochs_factor x student.epochs (the same warm-up and final decay); they validate every
  student.baseline_validate_every epochs (only DSH's and DTH's curves judge claim 3).
Distillation targets are always the teacher on the very image the student sees:
with distill.teacher_outputs: cache they come from the teacher stage's outputs on
each train image and on its horizontal flip (so student.augment may be none or flip);
with online the teacher encodes each augmented batch (any augment, far slower on a CPU).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dth.data import load_manifest
from dth.errors import DthError
from dth.hardware import describe
from dth.baselines import BASELINES, PairMemory, baseline_loss, hash_centres
from dth.io import sha256_file
from dth.losses import is_multi_label, top1_accuracy
from dth.models import Student
from dth.params import method_epochs
from dth.timing import loop_timer
from dth.train import (TrainConfig, Validation, distillation_targets, fingerprint, fit, input_config,
                       load_train_set, resolve_precision, seed_everything, student_step)

METHODS = ("dsh", "dth") + BASELINES  # every student objective; dth alone needs the teacher


@dataclass
class StudentRun:
    model: Student
    config: dict       # Student constructor kwargs (saved with the model)
    rows: list[dict]   # the per-epoch curve
    meta: dict         # what the checkpoint records about the run


def scale_hash_layer(model: Student, scale: float) -> None:
    """Multiply the hash layer's initial weights and bias by `scale`, so that its outputs u
    start `scale` times as large and as spread over images (docs/baselines.md, DPSH)."""
    with torch.no_grad():
        model.hash_layer.weight.mul_(scale)
        model.hash_layer.bias.mul_(scale)


def train_student(params: dict, method: str, bits: int, *, seed: int, data: str | Path, device: torch.device,
                  name: str, curve: str | Path | None, teacher: str | Path | None = None,
                  teacher_outputs: str | Path | None = None, checkpoints: str | Path | None = "checkpoints",
                  validate_every: int | None = None, progress: bool = True) -> StudentRun:
    """Train the student of `method` with `bits` bits on params `student`, validating after
    every epoch (the compared methods: every student.baseline_validate_every; `validate_every`
    overrides both) on its first student.val_queries query images against the first
    student.val_database database images (the curve claim 3 is judged on). Resumes from
    `checkpoints`."""
    section = params["student"]
    if bits not in params["bits"]:
        raise DthError(f"--bits {bits}: not in params.yaml `bits` {params['bits']}")
    manifest = load_manifest(data)
    train = load_train_set(data)
    multi_label = is_multi_label(train.labels)
    config = dict(bits=bits, **input_config(manifest, train))
    cfg = resolve_precision(TrainConfig.from_section(section), device, name)  # amp auto -> bf16 or fp32, logged
    distill = params["distill"]
    if method not in METHODS:
        raise DthError(f"--method {method}: accepted: {', '.join(METHODS)}")
    baseline = method in BASELINES
    method_params = params[method] if baseline else {}
    if validate_every is None:
        validate_every = section["baseline_validate_every"] if baseline else 1
    if baseline:  # the method's own rate, L2 penalty and length (chosen on validation runs, docs/baselines.md)
        cfg = dataclasses.replace(cfg, lr=method_params["lr"], weight_decay=method_params["weight_decay"],
                                  epochs=method_epochs(params, method))
    centres, centre_meta = None, {}
    if method == "csq":
        centres, min_distance = hash_centres(config["num_classes"], bits, method_params["centre_seed"])
        centres = centres.to(device)
        centre_meta = {"csq_centres_min_distance": min_distance}
    memory = None
    if method == "dpsh" and method_params["memory_bank"]:  # pair each batch with every training image
        train.extras["index"] = torch.arange(len(train))
        memory = PairMemory(train.labels.to(device), bits)
    epoch_now = [0]  # HashNet's continuation reads the epoch

    online, teacher_sha = None, None
    if method == "dth":
        teacher_path = Path(teacher or "models/teacher.pt")
        if not teacher_path.exists():
            raise DthError(f"--teacher {teacher_path} does not exist: run `dth train-teacher` first")
        teacher_sha = sha256_file(teacher_path)
        # cache: train.extras["teacher_h"] (and its flips) filled; online: the frozen teacher
        online = distillation_targets(train, distill, bits, teacher=teacher_path, teacher_outputs=teacher_outputs,
                                      teacher_sha256=teacher_sha, device=device)

    def step_loss(m, x, y, extras):
        if not baseline:  # dsh, dth: the same step as the ternary fine-tuning's
            return student_step(m, x, y, extras, method, params, multi_label, bits, teacher=online)
        hs, logits = m(x)
        loss = baseline_loss(method, hs, logits, y, params, multi_label=multi_label, epoch=epoch_now[0],
                             classifier_weight=m.classifier.weight, centres=centres, memory=memory,
                             index=extras.get("index"))
        return loss, (top1_accuracy(logits.detach(), y) if method == "ce" else None)

    def on_epoch(epoch):
        epoch_now[0] = epoch

    n_query, n_database = section["val_queries"], section["val_database"]
    val = Validation.from_prepared(data, n_query, n_database, lambda m, x: {bits: m(x)},
                                   accuracy=(method in ("dth", "ce")), amp=cfg.amp)
    run_id = fingerprint({"config": config, "student": section, "dsh": params["dsh"], "distill": distill,
                          "method": method, "teacher": teacher_sha, "manifest": manifest,
                          "validation": [n_query, n_database], "method_params": method_params})
    seed_everything(seed)
    model = Student(**config)
    if method_params.get("init_scale", 1.0) != 1.0:  # dpsh: start away from its saddle at u = 0
        scale_hash_layer(model, method_params["init_scale"])
    start = time.perf_counter()
    with loop_timer("train"):
        rows = fit(model, step_loss, train, cfg, seed=seed, device=device, name=name, run_id=run_id,
                   checkpoint_dir=checkpoints, curve=curve, validate=val, validate_every=validate_every,
                   on_epoch=on_epoch, objective_state=memory.state() if memory else None, progress=progress)
    meta = {"method": method, "bits": bits, "seed": seed,
            "params": {"student": section, "dsh": params["dsh"], "distill": distill,
                       **({method: method_params} if baseline else {})}, "lr": cfg.lr, **centre_meta,
            "teacher_sha256": teacher_sha, "dataset": manifest.get("dataset"), "protocol": manifest.get("protocol"),
            "multi_label": multi_label, "final": rows[-1], "train_seconds": time.perf_counter() - start,
            "device": device.type, "amp": cfg.amp, "hardware": describe(device)}
    return StudentRun(model.cpu().eval(), config, rows, meta)
