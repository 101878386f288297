"""Reading the prepared-data artifact that `dth prepare` writes (default data/prepared/).

    from dth.data import load_manifest, load_split, to_float
    manifest = load_manifest("data/prepared")     # dataset, protocol, counts, image shape ...
    images, labels = load_split("data/prepared", "train")   # uint8 (N, H, W, C), uint8 (N, C)
    x = to_float(images[:128])                    # float32 (128, C, H, W) in [0, 1]

Layout of the artifact (format "dth-prepared/1"):
    {query,train,database}_images.npy   uint8, (N, H, W, C)
    {query,train,database}_labels.npy   uint8, (N, num_classes), multi-hot (one-hot for
                                        single-label data); relevance = sharing a label
    manifest.json                       dataset, protocol, split_seed, num_classes,
                                        class_names, image_shape [H, W, C], counts and
                                        class_counts per set, sha256 of the sources
Images are opened memory-mapped, so a large database never has to fit in RAM.
"""

from __future__ import annotations

import json
from pathlib import Path

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
