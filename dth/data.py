"""Reading the prepared-data artifact that `dth prepare` writes (default data/prepared/).

    from dth.data import load_manifest, load_split, to_float
    manifest = load_manifest("data/prepared")     # dataset, protocol, counts, image shape ...
    images, labels = load_split("data/prepared", "train")   # uint8 (N, H, W, C), uint8 (N, C)
    x = to_float(images[:128])                    # float32 (128, C, H, W) in [0, 1]
    out = forward_batches(lambda x: {"h": model.hash(x)}, images, batch_size=1024, device="cpu")
    out["h"]                                      # float32 (N, k) on the CPU, in image order

Layout of the artifact (format "dth-prepared/1"):
    {query,train,database}_images.npy   uint8, (N, H, W, C)
    {query,train,database}_labels.npy   uint8, (N, num_classes), multi-hot (one-hot for
                                        single-label data); relevance = sharing a label
    manifest.json                       dataset, protocol, split_seed, num_classes,
                                        class_names, image_shape [H, W, C], counts and
                                        class_counts per set, sha256 of the sources
Images are opened memory-mapped, so a large database never has to fit in RAM.

`model_input` and `forward_batches` are the one way uint8 images become the models' input
and go through a model in batches: validation and the teacher's outputs (dth/train.py,
dth/train_teacher.py), the ternary check (dth/ternarize.py) and encoding (dth/hamming.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from dth.errors import DthError

SPLITS = ("query", "train", "database")
FORMAT = "dth-prepared/1"


def load_manifest(root: str | Path) -> dict:
    path = Path(root) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DthError(f"{path} does not exist: run `dth prepare` first") from None
    except json.JSONDecodeError as e:
        raise DthError(f"{path} is not valid JSON ({e}): run `dth prepare` again") from None
    if manifest.get("format") != FORMAT:
        raise DthError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}: run `dth prepare` again")
    return manifest


def load_split(root: str | Path, split: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, H, W, C), labels uint8 (N, C)) of one set; images memory-mapped."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    root = Path(root)
    paths = [root / f"{split}_images.npy", root / f"{split}_labels.npy"]
    for p in paths:
        if not p.exists():
            raise DthError(f"{p} does not exist: run `dth prepare` first")
    images = np.load(paths[0], mmap_mode="r" if mmap else None)
    labels = np.load(paths[1])
    return images, labels


def to_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1], the models' input."""
    t = torch.as_tensor(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    return t.permute(0, 3, 1, 2).float().div_(255.0).contiguous()


def bf16_autocast(device: torch.device, amp: str):
    """The forward pass's precision: bf16 autocast on `device` when amp is "bf16", else a no-op
    context (fp32). dth.train.autocast resolves amp auto before it calls this."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=(amp == "bf16"))


def model_input(images: np.ndarray | torch.Tensor, device, flip: bool = False,
                channels_last: bool = True) -> torch.Tensor:
    """The models' input from a batch of uint8 images: float32 (N, C, H, W) in [0, 1] on `device`.

    A torch tensor is taken as uint8 (N, C, H, W) (the train and validation sets held in
    memory): it is moved to `device` first and converted there. A numpy array is taken as
    uint8 (N, H, W, C) (a prepared split, possibly memory-mapped, or image files): it is
    converted on the CPU by `to_float`, then moved. The two orders are kept as each caller
    has always used them: on CUDA, x / 255 is computed as x * (1 / 255), which can differ in
    the last bit from the CPU's division. `flip`: horizontally flipped (the width axis).
    `channels_last`: in channels-last memory layout, as the models run in training and
    encoding (NHWC convolutions: ~1.5x faster on CPU)."""
    if isinstance(images, torch.Tensor):
        x = images.to(device).float().div_(255.0)
    else:
        x = to_float(np.array(images)).to(device)  # np.array: a copy, memmaps are read-only
    if flip:
        x = x.flip(3)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@torch.no_grad()
def forward_batches(forward: Callable[[torch.Tensor], dict], images: np.ndarray | torch.Tensor, *,
                    batch_size: int, device, amp: str = "none", flip: bool = False, channels_last: bool = True,
                    progress: str | None = None) -> dict:
    """{key: float32 tensor (N, ...) on the CPU}: `forward(x)` on every batch of `batch_size`
    of the uint8 `images`, each of its outputs concatenated over the batches in image order.

    x is `model_input` of the batch (on `device`, optionally flipped, channels-last unless
    told otherwise); forward(x) returns {key: tensor (batch, ...)} and runs under bf16 autocast
    when amp is "bf16" (fp32 when "none"; resolve auto first, dth.hardware.resolve_amp),
    without gradients. The model's mode (eval) and memory layout are the caller's to set.
    `progress`, if given, is the label of a tqdm bar over the batches. No images: {}."""
    if amp not in ("none", "bf16"):
        raise ValueError(f"amp must be none or bf16 (resolve auto with dth.hardware.resolve_amp), not {amp!r}")
    device = torch.device(device)
    batches = range(0, len(images), batch_size)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, desc=progress, unit="batch", leave=False)
    parts: dict = {}
    for start in batches:
        x = model_input(images[start:start + batch_size], device, flip=flip, channels_last=channels_last)
        with bf16_autocast(device, amp):
            outputs = forward(x)
        for key, value in outputs.items():
            parts.setdefault(key, []).append(value.float().cpu())
    return {key: torch.cat(values) for key, values in parts.items()}


def channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images in [0, 1] units (for the models' Normalize)."""
    n = len(images)
    c = images.shape[-1]
    s = np.zeros(c, np.float64)
    s2 = np.zeros(c, np.float64)
    for i in range(0, n, chunk):
        x = np.asarray(images[i:i + chunk], dtype=np.float64) / 255.0
        s += x.sum(axis=(0, 1, 2))
        s2 += (x * x).sum(axis=(0, 1, 2))
    count = n * images.shape[1] * images.shape[2]
    mean = s / count
    std = np.sqrt(np.maximum(s2 / count - mean * mean, 1e-12))
    return mean.tolist(), std.tolist()
