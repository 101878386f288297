"""Train a compared method on the teacher's network: claim 6's big-backbone comparison.

    dth train-backbone --method greedyhash --data data/prepared \\
        --out models/greedyhash-resnet18.pt --curve results/plots/train/greedyhash-resnet18.csv

The paper's competitors ran on large networks, the distilled student on a small one. This
stage trains one method of params `backbone_methods` (dsh, dpsh, hashnet, dch, greedyhash,
csq) on exactly the teacher's network and schedule: params `teacher` (arch, pretrained,
input_size, epochs, optimizer, lr, schedule, augment, amp) and `bits`, one hash head per
k on one backbone, at params `seed`, the teacher's seed and initialisation. The loss is the
mean over the heads of the method's loss on each head (dth/baselines.py; dsh: the DSH
pairwise loss of dth/losses.py), as the teacher's is the mean of its heads' cross-entropies:
the teacher is the `ce` method on this network, so ce is not one of these methods. Each
method's weights are its params section; its learning rate is the teacher's (a sweep per
method would cost one teacher training per rate).

Writes --out, a checkpoint of the same kind as the teacher's (`dth encode` encodes every
head: codes/<method>-<arch>/<method>-<arch>-<k>.npz), and --curve, the per-epoch CSV
(validation mAP of teacher.val_queries query images against teacher.val_database database
images, averaged over the heads; never used to pick a model). An interrupted run resumes
from checkpoints/<out stem>/last.pt when rerun.
"""

from __future__ import annotations

import argparse
import time

import torch

from dth.baselines import PairMemory, baseline_loss, hash_centres
from dth.errors import DthError
from dth.hardware import describe
from dth.losses import student_objective
from dth.models import save_model
from dth.params import BACKBONE_METHODS, load_params, teacher_bits
from dth.timing import loop_timer
from dth.train import Validation, fingerprint, fit, remove_checkpoint
from dth.train_teacher import setup_teacher_run


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, choices=BACKBONE_METHODS, help="the compared method to train")
    p.add_argument("--params", default="params.yaml", help="parameters file (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data folder (default: %(default)s)")
    p.add_argument("--out", required=True, help="checkpoint to write, e.g. models/greedyhash-resnet18.pt")
    p.add_argument("--curve", required=True, help="per-epoch CSV, e.g. results/plots/train/greedyhash-resnet18.csv")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: cuda when present")
    p.add_argument("--checkpoints", default="checkpoints", help="folder of resume checkpoints (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def head_losses(method: str, hs: dict, logits: dict, labels: torch.Tensor, params: dict, *, model,
                multi_label: bool, epoch: int, centres: dict, memories: dict | None = None,
                index: torch.Tensor | None = None) -> torch.Tensor:
    """The mean over the hash heads of `method`'s loss on each head's outputs (fp32);
    memories: dpsh's table of training outputs per head (dpsh.memory_bank), index: the batch's rows."""
    losses = []
    for k, h in hs.items():
        if method == "dsh":
            with torch.autocast(device_type=h.device.type, enabled=False):
                losses.append(student_objective("dsh", h.float(), logits[k], labels, None, params, multi_label))
        else:
            losses.append(baseline_loss(method, h, logits[k], labels, params, multi_label=multi_label, epoch=epoch,
                                        classifier_weight=model.classifiers[str(k)].weight,
                                        centres=centres.get(k), memory=(memories or {}).get(k), index=index))
    return torch.stack(losses).mean()


def main(args) -> int:
    params = load_params(args.params)
    method, section = args.method, params["teacher"]
    if method not in params["backbone_methods"]:
        raise DthError(f"--method {method}: not in {args.params} `backbone_methods` {params['backbone_methods']}")
    seed = params["seed"]
    run = setup_teacher_run(params, args.params, args.data, args.device, seed, args.out)
    device, manifest, train, multi_label = run.device, run.manifest, run.train, run.multi_label
    model, config, name, cfg = run.model, run.config, run.name, run.cfg
    method_params = params[method]
    centres, centre_meta = {}, {}
    if method == "csq":
        for k in model.bits:
            c, distance = hash_centres(config["num_classes"], k, method_params["centre_seed"])
            centres[k] = c.to(device)
            centre_meta[str(k)] = distance
    memories = {}
    if method == "dpsh" and method_params["memory_bank"]:  # one table of training outputs per head
        train.extras["index"] = torch.arange(len(train))
        memories = {k: PairMemory(train.labels.to(device), k) for k in model.bits}
    epoch_now = [0]  # HashNet's continuation reads the epoch

    def step_loss(m, x, y, extras):
        hs, logits = m(x)
        return head_losses(method, hs, logits, y, params, model=m, multi_label=multi_label, epoch=epoch_now[0],
                           centres=centres, memories=memories, index=extras.get("index")), None

    def on_epoch(epoch):
        epoch_now[0] = epoch

    def outputs(m, x):
        hs, logits = m(x)
        return {k: (hs[k], logits[k]) for k in hs}

    val = Validation.from_prepared(args.data, section["val_queries"], section["val_database"], outputs,
                                   accuracy=False, amp=cfg.amp)
    run_id = fingerprint({"config": config, "teacher": section, "manifest": manifest, "method": method,
                          "method_params": method_params})
    start = time.perf_counter()
    with loop_timer("train"):
        rows = fit(model, step_loss, train, cfg, seed=seed, device=device, name=name, run_id=run_id,
                   checkpoint_dir=args.checkpoints, curve=args.curve, validate=val, on_epoch=on_epoch,
                   objective_state={f"{k}.{key}": t for k, mem in memories.items() for key, t in mem.state().items()},
                   progress=not args.no_progress)
    train_seconds = time.perf_counter() - start
    meta = {"stage": "train_backbone", "method": method, "seed": seed,
            "params": {"teacher": section, "bits": teacher_bits(params), method: method_params},
            **({"csq_centres_min_distance": centre_meta} if centre_meta else {}),
            "dataset": manifest.get("dataset"), "protocol": manifest.get("protocol"), "multi_label": multi_label,
            "final": rows[-1], "train_seconds": train_seconds, "device": device.type, "amp": cfg.amp,
            "hardware": describe(device)}
    save_model(args.out, model.cpu(), "teacher", config, meta)
    remove_checkpoint(args.checkpoints, name)
    print(f"{name}: {method} on the teacher's {section['arch']}, {len(rows)} epochs in {train_seconds:.0f} s "
          f"({cfg.amp}); val_map {rows[-1]['val_map']:.4f}; wrote {args.out}, {args.curve}")
    return 0
