"""The training loop shared by the teacher, the students and the ternary fine-tuning.

    from dth.train import TrainConfig, load_train_set, Validation, fit, resolve_device
    cfg = TrainConfig.from_section(params["student"])          # epochs, batch_size, lr, ...
    train = load_train_set("data/prepared")                    # uint8 images in memory
    val = Validation.from_prepared("data/prepared", 500, 5000, outputs=lambda m, x: {12: m(x)})
    def step_loss(model, x, y, extras):                        # x float [0, 1], augmented
        h, logits = model(x)
        return student_objective("dth", h, logits, y, extras["teacher_h"], params), top1_accuracy(logits, y)
    rows = fit(model, step_loss, train, cfg, seed=0, device=resolve_device("auto"),
               name="dth-12-s0", curve="results/plots/train/dth-12-s0.csv", validate=val)

The students and their ternary fine-tuning share the distillation's pieces: its targets
(`distillation_targets`: the teacher's cached outputs, or the frozen teacher run online) and
the step loss of the DSH and DTH objectives (`student_step`).

What `fit` guarantees:
- Data stays in memory as uint8 tensors (on the training device); each batch is
  augmented as a whole (`augment`: none, flip, or crop+flip: a random crop from a
  `crop_pad`-px zero padding and a random horizontal flip) by one gather, not image by
  image through PIL. Per-image targets that depend on the view (cached teacher
  outputs) follow the flip (TrainSet.flip_extras); they cannot follow a crop.
- Seeded: batch order and augmentation come from a torch.Generator seeded with `seed`
  (model initialisation is the caller's, under `torch.manual_seed(seed)`); on CPU two
  runs with the same inputs give bit-identical weights.
- Per-step learning rate: linear warm-up over `warmup_epochs`, then cosine decay to 0,
  step decay (/10 at 50% and 75% of the steps) or constant. Each optimizer parameter
  group's own lr is scaled the same way (the ternary stage gives the TTQ scales theirs).
- After each epoch: a checkpoint `checkpoints/<name>/last.pt` written atomically (model,
  optimizer, RNG state, curve so far, a fingerprint of the run's settings) and the
  curve CSV rewritten. A rerun with the same fingerprint resumes after the last
  finished epoch and ends with the same weights as an uninterrupted run; a checkpoint
  with another fingerprint is ignored. The stage removes the folder when it is done
  (`remove_checkpoint`).
- Curve columns (docs/artifacts.md): epoch (1-based), step (optimizer steps so far),
  loss (mean over the epoch's steps), train_acc (mean top-1 accuracy over the epoch's
  augmented batches; empty when the objective does not train a classifier), val_acc,
  val_map (mAP@all of the fixed validation slice; averaged over heads for the teacher),
  lr (of the first parameter group at the epoch's end), seconds (wall time since the
  run's start, validation included, summed over resumed runs).
- A NaN or infinite loss stops the run with a DthError naming the epoch and the step.
- The last batch of an epoch is dropped when incomplete (every step has batch_size
  images; which images are left out changes every epoch).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dth.data import bf16_autocast, channel_stats, forward_batches, load_manifest, load_split, model_input
from dth.errors import DthError
from dth.hardware import resolve_amp, resolve_device  # noqa: F401  (re-exported)
from dth.io import atomic_path
from dth.losses import student_objective, top1_accuracy
from dth.models import load_model
from dth.params import choices

CURVE_COLUMNS = ["epoch", "step", "loss", "train_acc", "val_acc", "val_map", "lr", "seconds"]
CHECKPOINT_FORMAT = "dth-train-checkpoint/1"
AUGMENTS = choices("student.augment")  # per-image augmentation of the training batches


# Every TrainConfig field comes from a params section or is given: params.yaml is the one source
# of their values.
@dataclass(frozen=True)
class TrainConfig:
    """The optimisation settings of one run (the keys shared by params.yaml's training sections).

    No field has a default: build it from a params section (`from_section`) or give every field."""
    epochs: int
    batch_size: int
    optimizer: str                 # sgd (Nesterov momentum 0.9) | adam
    lr: float                      # peak learning rate
    weight_decay: float            # L2 penalty (SGD: added to the gradient; Adam: torch's L2 form)
    schedule: str                  # cosine | step | constant
    warmup_epochs: int             # linear warm-up from 0 to lr
    decay_epochs: int              # schedule constant only: linear decay to 0 over the last N epochs
    amp: str                       # auto | bf16 | none: autocast dtype of the forward pass (dth.hardware)
    augment: str                   # none | flip (random horizontal flip) | crop+flip (random crop too)
    crop_pad: int                  # px of zero padding the random crop is taken from

    def __post_init__(self):
        if isinstance(self.augment, bool):  # the older boolean spelling
            object.__setattr__(self, "augment", "crop+flip" if self.augment else "none")
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}, not {self.augment!r}")

    @classmethod
    def from_section(cls, section: dict, **overrides) -> "TrainConfig":
        """Take the known keys of a params.yaml section (teacher, student, ...), then `overrides`;
        a field in neither is an error (the teacher's section has no decay_epochs: its callers give 0)."""
        names = [f.name for f in fields(cls)]
        values = {k: v for k, v in section.items() if k in names} | overrides
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"TrainConfig: the params section has no {', '.join(missing)} "
                             "(and no override gives it)")
        return cls(**values)


@dataclass
class TrainSet:
    """Training data in memory: uint8 images (N, C, H, W), multi-hot labels (N, classes),
    and `extras`: per-image tensors batched alongside (e.g. cached teacher hash outputs).

    `flip_extras` holds, for the extras that depend on the view of the image (a
    teacher's outputs do), their values on the horizontally flipped image: a batch
    item that `fit` flips gets these instead, so the extras always describe the very
    image the model sees. Such extras cannot follow a random crop: `fit` refuses
    augment crop+flip while `flip_extras` is not empty."""
    images: torch.Tensor
    labels: torch.Tensor
    extras: dict
    flip_extras: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.images)

    def to(self, device) -> "TrainSet":
        return TrainSet(self.images.to(device), self.labels.to(device),
                        {k: v.to(device) for k, v in self.extras.items()},
                        {k: v.to(device) for k, v in self.flip_extras.items()})


def load_train_set(data_root: str | Path) -> TrainSet:
    """The prepared train set as in-memory uint8 tensors (N, C, H, W) and float labels."""
    images, labels = load_split(data_root, "train", mmap=False)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()
    return TrainSet(x, torch.from_numpy(labels).float(), {})


def input_config(manifest: dict, train: TrainSet) -> dict:
    """The model constructor arguments the data decide: classes, channels, image side and the
    per-channel mean / std of the train set (the models normalise their inputs with them)."""
    h, w, c = manifest["image_shape"]
    mean, std = channel_stats(train.images.permute(0, 2, 3, 1).numpy())
    return dict(num_classes=manifest["num_classes"], in_channels=c, image_size=min(h, w), mean=mean, std=std)


def seed_everything(seed: int) -> None:
    """Seed torch (model initialisation) and ask for deterministic kernels.

    The flag is set as torch.use_deterministic_algorithms(True, warn_only=True) sets it, minus
    that function's import of torch._inductor.config, which costs 1.5 s per stage process on a
    2-core CPU and only matters to torch.compile (unused here)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    if "torch._inductor.config" in sys.modules:   # already paid for: the public call
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch._C._set_deterministic_algorithms(True, warn_only=True)


def resolve_precision(cfg: TrainConfig, device: torch.device, name: str) -> TrainConfig:
    """cfg with `amp` resolved for `device` (auto -> bf16 or none, dth.hardware), the choice logged."""
    amp, why = resolve_amp(cfg.amp, device)
    tqdm.write(f"{name}: training in {'bf16 autocast' if amp == 'bf16' else 'fp32'} on {device.type} ({why})",
               file=sys.stderr)
    return replace(cfg, amp=amp)


def autocast(device: torch.device, amp: str):
    """The forward pass's autocast context (bf16) or a no-op (none); auto is resolved for `device`."""
    if amp == "auto":
        amp = resolve_amp(amp, device)[0]
    return bf16_autocast(device, amp)


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int,
                  crop: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crop from a `pad`-px zero padding (when `crop`) plus a random horizontal
    flip, per image, for a whole batch (N, C, H, W) at once; any dtype. Randomness from
    `generator` (CPU). Returns (the augmented batch, bool (N,): which images were flipped)."""
    n, c, h, w = x.shape
    if not crop:
        pad = 0
    dy = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator) if pad else torch.zeros(n, 1, dtype=torch.long)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), generator=generator) if pad else torch.zeros(n, 1, dtype=torch.long)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    rows = dy + torch.arange(h)                            # (n, h) rows of the padded image
    cols = dx + torch.arange(w)                            # (n, w)
    cols = torch.where(flip, cols.flip(1), cols)           # a flip reads the columns backwards
    rows, cols = rows.to(x.device), cols.to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    flat = padded.reshape(n, c, (h + 2 * pad) * (w + 2 * pad))
    index = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    return flat.gather(2, index).reshape(n, c, h, w), flip[:, 0].to(x.device)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str, decay_steps: int = 0) -> float:
    """Multiplier of the peak lr before optimizer step `step` (0-based). `decay_steps`
    (schedule constant only): the last that many steps decay linearly to 0 (warm-up,
    stable, decay: the stable part's curve stays readable, the end is annealed)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        left = total_steps - step  # steps left, this one included
        return left / (decay_steps + 1) if 0 < left <= decay_steps else 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "step":
        return 0.01 if progress >= 0.75 else 0.1 if progress >= 0.5 else 1.0
    raise ValueError(f"schedule must be cosine, step or constant, not {schedule!r}")


def make_optimizer(param_groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (Nesterov, momentum 0.9) or Adam; groups keep their own lr / weight_decay if set."""
    groups = []
    for g in param_groups:
        g = dict(g)
        g.setdefault("lr", cfg.lr)
        g.setdefault("weight_decay", cfg.weight_decay)
        g["peak_lr"] = g["lr"]  # what the schedule scales
        groups.append(g)
    # foreach: one multi-tensor update per step instead of a Python loop over the tensors
    # (torch's default on CPU); the small student spends ~10% of a step in that loop otherwise
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True, foreach=True)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, foreach=True)
    raise ValueError(f"optimizer must be sgd or adam, not {cfg.optimizer!r}")


CL = torch.channels_last  # memory format of every batch and model in training and validation


class Validation:
    """Per-epoch validation on a fixed slice: the first `n_query` query images against the
    first `n_database` database images. Logged only, never used to select a model.

    `outputs(model, x)` returns {k: (hash outputs (N, k), class logits (N, C))}, one entry
    per hash head; accuracy is top-1 on the query slice, mAP@all uses codes h > 0; both
    are averaged over the heads. With accuracy=False val_acc is left empty.
    """

    def __init__(self, query_images, query_labels, database_images, database_labels,
                 outputs: Callable, accuracy: bool = True, batch_size: int = 1024, amp: str = "none"):
        to_nchw = lambda a: torch.from_numpy(np.array(a)).permute(0, 3, 1, 2).contiguous()
        self.query = to_nchw(query_images)
        self.database = to_nchw(database_images)
        self.query_labels = np.asarray(query_labels)
        self.database_labels = np.asarray(database_labels)
        self.outputs = outputs
        self.accuracy = accuracy
        self.batch_size = batch_size
        self.amp = amp

    @classmethod
    def from_prepared(cls, data_root, n_query: int, n_database: int, outputs: Callable, **kwargs) -> "Validation":
        qx, qy = load_split(data_root, "query")
        dx, dy = load_split(data_root, "database")
        return cls(qx[:n_query], qy[:n_query], dx[:n_database], dy[:n_database], outputs, **kwargs)

    def _run(self, model, images, device):
        """{k: (hash outputs (N, k), class logits (N, C))}, float32 on the CPU, of the model as it
        is (its mode is the caller's: fit puts it in eval mode)."""
        def forward(x):  # {(k, 0): hash outputs, (k, 1): class logits} of every head k
            return {(k, i): t for k, pair in self.outputs(model, x).items() for i, t in enumerate(pair)}
        out = forward_batches(forward, images, batch_size=self.batch_size, device=device,
                              amp=resolve_amp(self.amp, device)[0])  # auto -> bf16 or none
        return {k: (out[k, 0], out[k, 1]) for k, i in out if i == 0}

    def __call__(self, model, device) -> dict:
        from dth.metrics import mean_average_precision
        q = self._run(model, self.query, device)
        d = self._run(model, self.database, device)
        maps, accs = [], []
        for k in q:
            maps.append(mean_average_precision((q[k][0] > 0).numpy().astype(np.uint8),
                                               (d[k][0] > 0).numpy().astype(np.uint8),
                                               self.query_labels, self.database_labels))
            accs.append(top1_accuracy(q[k][1], torch.from_numpy(self.query_labels)))
        return {"val_acc": float(np.mean(accs)) if self.accuracy else None, "val_map": float(np.mean(maps))}


def fingerprint(obj) -> str:
    """A short hash of a JSON-able description of a run (params, seed, inputs' hashes)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def checkpoint_path(checkpoint_dir: str | Path, name: str) -> Path:
    return Path(checkpoint_dir) / name / "last.pt"


def remove_checkpoint(checkpoint_dir: str | Path, name: str) -> None:
    """Delete a finished run's resume folder checkpoints/<name>/."""
    shutil.rmtree(Path(checkpoint_dir) / name, ignore_errors=True)


def write_curve(path: str | Path, rows: list[dict]) -> None:
    """The per-epoch CSV (header CURVE_COLUMNS), rewritten atomically."""
    def cell(v):
        if v is None:
            return ""
        return f"{v:.6g}" if isinstance(v, float) else str(v)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(CURVE_COLUMNS)
            for r in rows:
                writer.writerow([cell(r.get(c)) for c in CURVE_COLUMNS])


def _load_resume(path: Path, run_id: str) -> dict | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a torn or foreign file: start over rather than fail
        tqdm.write(f"ignoring unreadable checkpoint {path} ({e}); starting from epoch 1", file=sys.stderr)
        return None
    if state.get("format") != CHECKPOINT_FORMAT or state.get("run_id") != run_id:
        tqdm.write(f"ignoring checkpoint {path}: it was written with other settings; starting from epoch 1",
                   file=sys.stderr)
        return None
    return state


def fit(model: torch.nn.Module, step_loss: Callable, train: TrainSet, cfg: TrainConfig, *,
        seed: int, device: torch.device, name: str, run_id: str = "",
        checkpoint_dir: str | Path | None = "checkpoints", curve: str | Path | None = None,
        validate: Validation | None = None, validate_every: int = 1, param_groups: list[dict] | None = None,
        on_epoch: Callable[[int], None] | None = None, objective_state: dict[str, torch.Tensor] | None = None,
        progress: bool = True) -> list[dict]:
    """Train `model` in place for cfg.epochs epochs; return the curve rows.

    step_loss(model, x, y, extras) -> (loss tensor, train accuracy float or None), with x
    the float batch in [0, 1] (augmented when cfg.augment), y its labels, extras the
    batch's rows of train.extras. It runs under autocast when cfg.amp is bf16.
    param_groups: optimizer groups (default: all of model's parameters), each may set
    its own "lr" and "weight_decay". run_id: a fingerprint of everything that defines
    the run (see `fingerprint`); a checkpoint is resumed only when it matches.
    checkpoint_dir None: no checkpoints, no resume.
    validate_every: run `validate` after every N-th epoch and after the last one (the curve's
    val columns are empty in between). on_epoch(epoch): called with the 0-based epoch before
    its first step, resumed runs included (objectives whose shape changes with training, such
    as HashNet's continuation, read the epoch there). objective_state: tensors that the
    objective changes in place from step to step (DPSH's memory of training outputs), saved
    with each checkpoint and restored in place on resume.
    """
    if cfg.augment == "crop+flip" and train.flip_extras:
        raise DthError(f"{name}: augment crop+flip, but the per-image targets {sorted(train.flip_extras)} were "
                       "computed for the plain and the flipped images only, not for random crops; "
                       "use augment flip or none, or compute the targets on each batch (distill.teacher_outputs: online)")
    missing = set(train.flip_extras) - set(train.extras)
    if missing:
        raise ValueError(f"flip_extras {sorted(missing)} have no un-flipped counterpart in extras")
    model.to(device).to(memory_format=CL)  # NHWC convolutions: ~1.5x faster on CPU
    if cfg.amp == "auto":  # the stages resolve it themselves (to record it); library callers may not
        cfg = resolve_precision(cfg, device, name)
    train = train.to(device)
    n = len(train)
    batch = min(cfg.batch_size, n)
    steps_per_epoch = n // batch
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = steps_per_epoch * cfg.warmup_epochs
    decay_steps = steps_per_epoch * cfg.decay_epochs
    optimizer = make_optimizer(param_groups or [{"params": [p for p in model.parameters() if p.requires_grad]}], cfg)
    generator = torch.Generator().manual_seed(seed)
    run_id = fingerprint([run_id, seed, n, batch, cfg.__dict__])

    rows: list[dict] = []
    start_epoch, step, elapsed = 0, 0, 0.0
    ckpt = checkpoint_path(checkpoint_dir, name) if checkpoint_dir is not None else None
    state = _load_resume(ckpt, run_id) if ckpt is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        for key, saved in state.get("objective_state", {}).items():
            objective_state[key].copy_(saved)
        rows, start_epoch, step, elapsed = state["rows"], state["epoch"], state["step"], state["seconds"]
        tqdm.write(f"{name}: resuming from {ckpt} after epoch {start_epoch}", file=sys.stderr)

    bar = tqdm(total=total_steps, initial=step, desc=name, unit="step", disable=not progress,
               dynamic_ncols=True, mininterval=1.0)
    t0 = time.perf_counter() - elapsed
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        if on_epoch is not None:
            on_epoch(epoch)
        order = torch.randperm(n, generator=generator).to(device)
        loss_sum, acc_sum, acc_count = 0.0, 0.0, 0
        for i in range(steps_per_epoch):
            idx = order[i * batch:(i + 1) * batch]
            x = train.images[idx]
            extras = {k: v[idx] for k, v in train.extras.items()}
            if cfg.augment != "none":
                x, flipped = augment_batch(x, generator, pad=cfg.crop_pad, crop=(cfg.augment == "crop+flip"))
                for k, v in train.flip_extras.items():  # the extras of the view the model sees
                    extras[k] = torch.where(flipped.view(-1, *[1] * (v.dim() - 1)), v[idx], extras[k])
            x = model_input(x, device)  # float in [0, 1], channels-last (x is on the device already)
            factor = lr_factor(step, total_steps, warmup_steps, cfg.schedule, decay_steps)
            for g in optimizer.param_groups:
                g["lr"] = g["peak_lr"] * factor
            with autocast(device, cfg.amp):
                loss, acc = step_loss(model, x, train.labels[idx], extras)
            value = float(loss.detach())
            if not math.isfinite(value):
                bar.close()
                raise DthError(f"{name}: the loss is {value} at epoch {epoch + 1}, step {i + 1} "
                               f"(global step {step + 1}); lower the learning rate in params.yaml "
                               f"or check the input data (the last good checkpoint is kept)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += value
            if acc is not None:
                acc_sum += float(acc)
                acc_count += 1
            bar.update(1)
        row = {"epoch": epoch + 1, "step": step, "loss": loss_sum / max(1, steps_per_epoch),
               "train_acc": acc_sum / acc_count if acc_count else None,
               "val_acc": None, "val_map": None, "lr": optimizer.param_groups[0]["lr"]}
        if validate is not None and ((epoch + 1) % validate_every == 0 or epoch + 1 == cfg.epochs):
            model.eval()
            row.update(validate(model, device))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4g}", val_map=row["val_map"] if row["val_map"] is None
                        else f"{row['val_map']:.3f}", refresh=False)
        if curve is not None:
            write_curve(curve, rows)
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(ckpt) as tmp:
                torch.save({"format": CHECKPOINT_FORMAT, "run_id": run_id, "epoch": epoch + 1, "step": step,
                            "seconds": row["seconds"], "rows": rows, "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                            **({"objective_state": objective_state} if objective_state else {})}, tmp)
    bar.close()
    model.eval()
    return rows


def load_cached_teacher_outputs(path: Path, bits: int, n_train: int,
                                teacher_sha256: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, h_flip): the `hash_<bits>` and `hash_<bits>_flip` arrays of train-teacher's
    --train-outputs file (the teacher on each train image and on its horizontal flip),
    checked against the train set and (when given) the sha256 of the teacher checkpoint."""
    if not path.exists():
        raise DthError(f"{path} does not exist: run `dth train-teacher` (it writes it with --train-outputs) "
                       f"or set distill.teacher_outputs: online")
    with np.load(path) as f:
        if teacher_sha256 is not None and str(f["teacher_sha256"]) != teacher_sha256:
            raise DthError(f"{path} was written by another teacher checkpoint: rerun `dth train-teacher`")
        key = f"hash_{bits}"
        if key not in f:
            raise DthError(f"{path} has no teacher outputs for k={bits} (has {sorted(f.files)}): "
                           f"retrain the teacher with {bits} in params `bits`")
        if f"{key}_flip" not in f:
            raise DthError(f"{path} has no outputs on the flipped images ({key}_flip): it was written by an "
                           "older dth; rerun `dth train-teacher`")
        h, h_flip = f[key], f[f"{key}_flip"]
    for name, a in ((key, h), (f"{key}_flip", h_flip)):
        if a.shape != (n_train, bits):
            raise DthError(f"{path}: {name} has shape {a.shape}, expected ({n_train}, {bits}) for this train set: "
                           f"retrain the teacher on the current prepared data")
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return as_tensor(h), as_tensor(h_flip)


def distillation_targets(train: TrainSet, distill: dict, bits: int, *, teacher: str | Path | None,
                         teacher_outputs: str | Path | None, teacher_sha256: str | None,
                         device: torch.device) -> torch.nn.Module | None:
    """The teacher's hash outputs of k=`bits` that the DTH objective distils, as params
    distill.teacher_outputs says (the DTH students and their ternary fine-tuning alike).

    cache: sets train.extras["teacher_h"] and train.flip_extras["teacher_h"] from `teacher_outputs`
    (default: <teacher stem>-train-hash.npz beside `teacher`, models/teacher.pt by default),
    checked against `teacher_sha256` when given; returns None.
    online: returns the frozen teacher `teacher` (eval mode, on `device`, no gradients), which
    `student_step` runs on each augmented batch."""
    teacher_path = Path(teacher or "models/teacher.pt")
    if distill["teacher_outputs"] == "cache":
        cached = Path(teacher_outputs or teacher_path.with_name(f"{teacher_path.stem}-train-hash.npz"))
        train.extras["teacher_h"], train.flip_extras["teacher_h"] = load_cached_teacher_outputs(
            cached, bits, len(train), teacher_sha256)
        return None
    if not teacher_path.exists():
        raise DthError(f"--teacher {teacher_path} does not exist (distill.teacher_outputs is online)")
    online, _ = load_model(teacher_path)
    online.to(device)  # frozen, eval mode: encodes each augmented batch
    if bits not in online.bits:
        raise DthError(f"{teacher_path} has hash heads for k in {online.bits}, not {bits}")
    online.requires_grad_(False)
    return online


def student_step(model, x, y, extras: dict, method: str, params: dict, multi_label: bool, bits: int,
                 teacher: torch.nn.Module | None = None) -> tuple[torch.Tensor, float | None]:
    """One batch of a student of `method` dsh or dth (dth.losses.student_objective), the step
    loss of `fit`: (loss, top-1 accuracy of the classifier, or None for dsh, which leaves the
    classifier untrained). The distillation targets are extras["teacher_h"] (cached), or,
    when `teacher` is given (online), its k=`bits` hash outputs on this very batch x."""
    hs, logits = model(x)
    teacher_h = extras.get("teacher_h")
    if teacher is not None:
        with torch.no_grad():
            teacher_h = teacher.hash(x, bits)
    loss = student_objective(method, hs, logits, y, teacher_h, params, multi_label)
    return loss, (top1_accuracy(logits.detach(), y) if method == "dth" else None)
