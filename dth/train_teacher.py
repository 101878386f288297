"""Train the ResNet teacher: one backbone, one hash head (fc k) and classifier per code length.

    dth train-teacher --data data/prepared --out models/teacher.pt \\
        --curve results/plots/train/teacher.csv --train-outputs models/teacher-train-hash.npz

Reads params.yaml `teacher` (arch, epochs, optimizer, lr, schedule, amp, ...), `bits`
(one head per k) and `seed`. teacher.pretrained imagenet starts the backbone from
torchvision's ImageNet weights, read from torch.hub's cache ($TORCH_HOME; a clear error
naming the file when it is missing), with ImageNet's normalisation; teacher.input_size
is the side the backbone sees (images resized inside the model; 224 for pretrained
ResNets on 32 px CIFAR-10). All heads are trained together on one backbone with
the mean of their cross-entropies (dth.losses.teacher_objective), so a run trains
one teacher for every code length.

Writes:
- --out: the teacher checkpoint (dth.models format; load with dth.models.load_model).
- --train-outputs: the teacher's real hash outputs on the train set, in eval mode, in
  train-set order, for each image as it is and horizontally flipped: npz with
  `hash_<k>` and `hash_<k>_flip` float32 (N_train, k) for each k, `bits` int64,
  `teacher_sha256` (of --out). `distill.teacher_outputs: cache` reads it: a student
  trained with augment flip gets, for each flipped image, the teacher's output on
  that flipped image.
- --curve: per-epoch CSV epoch,step,loss,train_acc,val_acc,val_map,lr,seconds
  (validation: teacher.val_queries query images vs teacher.val_database database
  images, averaged over the heads).
- --metrics: JSON of the final teacher's classification on the whole query set (its
  test set): `accuracy` (top-1, mean over the hash heads' classifiers) and
  `accuracy_min_head` (the worst head's).
An interrupted run resumes from checkpoints/<out stem>/last.pt when rerun.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dth.data import load_manifest, load_split
from dth.errors import DthError
from dth.io import atomic_path, sha256_file, write_json
from dth.losses import is_multi_label, teacher_objective, top1_accuracy
from dth.models import Teacher, imagenet_normalisation, imagenet_state, save_model
from dth.params import load_params, teacher_bits
from dth.timing import loop_timer
from dth.hardware import describe, resolve_device
from dth.train import (TrainConfig, Validation, fingerprint, fit, input_config, load_train_set,
                       remove_checkpoint, resolve_precision, seed_everything)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--out", default="models/teacher.pt", help="teacher checkpoint to write (default: %(default)s)")
    p.add_argument("--curve", default="results/plots/train/teacher.csv", help="per-epoch CSV (default: %(default)s)")
    p.add_argument("--train-outputs", default="models/teacher-train-hash.npz",
                   help="teacher hash outputs on the train set, for distill.teacher_outputs: cache (default: %(default)s)")
    p.add_argument("--metrics", default="results/metrics/teacher.json",
                   help="JSON of the teacher's test accuracy on the query set (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when present")
    p.add_argument("--seed", type=int, default=None, help="seed of initialisation and batch order (default: params seed)")
    p.add_argument("--checkpoints", default="checkpoints", help="folder of resume checkpoints (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@torch.no_grad()
def teacher_hash_outputs(model: Teacher, images: torch.Tensor, device, amp: str, batch_size: int = 512,
                         flip: bool = False) -> dict:
    """{k: float32 (N, k)} hash outputs of every head on uint8 images (N, C, H, W), eval mode;
    with `flip`, on the horizontally flipped images."""
    from dth.data import forward_batches
    from dth.hardware import resolve_amp
    model.eval().to(device)
    hs = forward_batches(lambda x: model(x)[0], images, batch_size=batch_size, device=device,
                         amp=resolve_amp(amp, device)[0], flip=flip)  # amp auto -> bf16 or none
    return {k: hs[k].numpy() for k in model.bits}


@torch.no_grad()
def query_accuracy(model: Teacher, data, device, amp: str, batch_size: int = 512) -> dict:
    """{k: top-1 accuracy of head k's classifier on the whole query set} (multi-label: a hit
    is any of the image's labels)."""
    from dth.data import forward_batches
    from dth.hardware import resolve_amp
    images, labels = load_split(data, "query")
    labels = torch.from_numpy(np.asarray(labels)).float()
    model.eval().to(device)
    logits = forward_batches(lambda x: model(x)[1], images, batch_size=batch_size, device=device,
                             amp=resolve_amp(amp, device)[0])  # amp auto -> bf16 or none
    hits = {k: 0.0 for k in model.bits}
    for i in range(0, len(images), batch_size):  # summed batch by batch, as the accuracy always was
        y = labels[i:i + batch_size]
        for k in model.bits:
            hits[k] += top1_accuracy(logits[k][i:i + batch_size], y) * len(y)
    return {k: v / len(images) for k, v in hits.items()}


def build_teacher(params: dict, params_path: str, manifest: dict, train, seed: int) -> tuple[Teacher, dict]:
    """The untrained teacher network of params `teacher` and `bits` (seeded), with its
    constructor kwargs: ImageNet weights and normalisation when teacher.pretrained is imagenet.
    dth/train_backbone.py builds the compared methods' networks with it too."""
    section = params["teacher"]
    config = dict(arch=section["arch"], bits=teacher_bits(params), **input_config(manifest, train),
                  stem_stride=section["stem_stride"])
    if section["input_size"] is not None:  # the backbone sees the images resized to this side
        config["input_size"] = section["input_size"]
    pretrained = section["pretrained"] == "imagenet"
    if pretrained:
        side = section["input_size"] or config["image_size"]
        if side < 64:
            raise DthError(f"{params_path}: teacher.pretrained imagenet needs torchvision's ImageNet stem, i.e. "
                           f"a backbone input of at least 64 px, but it would see {side} px; set "
                           "teacher.input_size (e.g. 224)")
        # the weights were trained on ImageNet-normalised images: the teacher normalises as they expect
        config["mean"], config["std"] = imagenet_normalisation(section["arch"], config["in_channels"])
    seed_everything(seed)
    model = Teacher(**config)
    if pretrained:
        model.load_backbone(imagenet_state(section["arch"]))
    return model, config


@dataclass
class TeacherSetup:
    """What a training run on the teacher's network starts from (this stage and train_backbone)."""
    device: torch.device
    manifest: dict
    train: object          # dth.train.TrainSet
    multi_label: bool
    model: Teacher         # untrained (or ImageNet-initialised), seeded
    config: dict           # its constructor kwargs
    name: str              # the run's name: the stem of its checkpoint (and of its resume folder)
    cfg: TrainConfig       # params `teacher`, amp resolved


def setup_teacher_run(params: dict, params_path: str, data: str, device: str, seed: int, out: str) -> TeacherSetup:
    device = resolve_device(device)
    manifest = load_manifest(data)
    train = load_train_set(data)
    model, config = build_teacher(params, params_path, manifest, train, seed)
    name = Path(out).stem
    # the teacher's schedule has no final linear decay (params `teacher` has no decay_epochs)
    cfg = resolve_precision(TrainConfig.from_section(params["teacher"], decay_epochs=0), device, name)  # auto -> bf16/fp32
    return TeacherSetup(device, manifest, train, is_multi_label(train.labels), model, config, name, cfg)


def main(args) -> int:
    params = load_params(args.params)
    section = params["teacher"]
    seed = params["seed"] if args.seed is None else args.seed
    run = setup_teacher_run(params, args.params, args.data, args.device, seed, args.out)
    device, manifest, train, multi_label = run.device, run.manifest, run.train, run.multi_label
    model, config, name, cfg = run.model, run.config, run.name, run.cfg

    def step_loss(m, x, y, extras):
        hs, logits = m(x)
        acc = float(np.mean([top1_accuracy(lg.detach(), y) for lg in logits.values()]))
        return teacher_objective(logits, y, multi_label), acc

    def outputs(m, x):
        hs, logits = m(x)
        return {k: (hs[k], logits[k]) for k in hs}

    val = Validation.from_prepared(args.data, section["val_queries"], section["val_database"], outputs,
                                   amp=cfg.amp)
    run_id = fingerprint({"config": config, "teacher": section, "manifest": manifest})
    start = time.perf_counter()
    with loop_timer("train"):
        rows = fit(model, step_loss, train, cfg, seed=seed, device=device, name=name, run_id=run_id,
                   checkpoint_dir=args.checkpoints, curve=args.curve, validate=val, progress=not args.no_progress)
    train_seconds = time.perf_counter() - start

    meta = {"stage": "train_teacher", "seed": seed, "params": {"teacher": section, "bits": teacher_bits(params)},
            "dataset": manifest.get("dataset"), "protocol": manifest.get("protocol"),
            "multi_label": multi_label, "final": rows[-1], "train_seconds": train_seconds,
            "device": device.type, "amp": cfg.amp, "hardware": describe(device)}
    save_model(args.out, model.cpu(), "teacher", config, meta)
    with loop_timer("encode"):
        hashes = teacher_hash_outputs(model, train.images, device, cfg.amp)
        flipped = teacher_hash_outputs(model, train.images, device, cfg.amp, flip=True)
    with atomic_path(args.train_outputs) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, bits=np.array(model.bits, np.int64), teacher_sha256=np.array(sha256_file(args.out)),
                     **{f"hash_{k}": v for k, v in hashes.items()},
                     **{f"hash_{k}_flip": v for k, v in flipped.items()})
    with loop_timer("encode"):
        accuracy = query_accuracy(model, args.data, device, cfg.amp)
    write_json(args.metrics, {"accuracy": float(np.mean(list(accuracy.values()))),
                              "accuracy_min_head": float(min(accuracy.values()))})
    remove_checkpoint(args.checkpoints, name)
    last = rows[-1]
    print(f"teacher: {len(rows)} epochs in {train_seconds:.0f} s ({cfg.amp}); test accuracy on the query set "
          + ", ".join(f"{k} bits {a:.4f}" for k, a in accuracy.items())
          + f"; val_map {last['val_map']:.4f}; wrote {args.out}, {args.train_outputs}, {args.curve}, {args.metrics}")
    return 0
