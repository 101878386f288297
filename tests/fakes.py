"""Tiny datasets written in the exact upstream file formats, for tests.

    from tests.fakes import make_tiny_fashion_mnist, write_params
    make_tiny_fashion_mnist(tmp_path / "fmnist", n_train=200, n_test=50)   # four idx .gz files
    params = write_params(tmp_path / "params.yaml", root=str(tmp_path / "fmnist"), protocol="full")
    # then: dth prepare --params <params> --out <folder>   (or dth.prepare.prepare(data, out))

Every fake image carries its own index in the pool (train first, then test) in its
first pixels (`pool_index`), so tests can tell exactly which source image landed in
which set. Images of one class share a random template, so a model can learn them.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def _labels(n: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Balanced labels (n // num_classes of each class, the remainder from the first classes), shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.uint8)


def _images(labels: np.ndarray, first_index: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """uint8 images: the template of each image's class, the pool index in the first 3 bytes."""
    templates = np.random.default_rng(seed).integers(0, 256, (int(labels.max(initial=0)) + 1, *shape), np.uint8)
    images = templates[labels].copy()
    flat = images.reshape(len(images), -1)
    index = np.arange(first_index, first_index + len(images))
    flat[:, 0], flat[:, 1], flat[:, 2] = index // 65536, (index // 256) % 256, index % 256
    return images


def pool_index(images: np.ndarray) -> np.ndarray:
    """The pool index that `_images` wrote into each image (N, ...) -> (N,) int64."""
    flat = np.asarray(images).reshape(len(images), -1).astype(np.int64)
    return flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file of unsigned bytes (gzip-compressed when the name ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)


def make_tiny_fashion_mnist(folder: str | Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """Write train-/t10k- images and labels as idx .gz files (28x28, 10 classes) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_y, test_y = _labels(n_train, 10, rng), _labels(n_test, 10, rng)
    write_idx(folder / "train-images-idx3-ubyte.gz", _images(train_y, 0, (28, 28), seed))
    write_idx(folder / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", _images(test_y, n_train, (28, 28), seed))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", test_y)
    return folder


def make_tiny_cifar10(folder: str | Path, n_per_batch: int = 40, n_test: int = 40, seed: int = 0) -> dict:
    """Write cifar-10-batches-py/ (5 train batches, test_batch, batches.meta) and cifar-10-python.tar.gz.

    Returns the md5s to register as torchvision's expected ones (tests monkeypatch them, see
    `patch_cifar10_md5`): {"tgz_md5": ..., "train_list": [[name, md5], ...], "test_list": [...], "meta": {...}}.
    """
    folder = Path(folder)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    index = 0
    for name, n in [(f"data_batch_{b}", n_per_batch) for b in range(1, 6)] + [("test_batch", n_test)]:
        labels = _labels(n, 10, rng)
        hwc = _images(labels, index, (32, 32, 3), seed)
        index += n
        entry = {"batch_label": name, "labels": labels.tolist(),
                 "data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072),  # rows are R plane, G plane, B plane
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        (batches / name).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {"num_cases_per_batch": n_per_batch, "label_names": names, "num_vis": 3072}
    (batches / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    archive = folder / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(batches, arcname="cifar-10-batches-py")

    def md5(p: Path) -> str:
        return hashlib.md5(p.read_bytes()).hexdigest()
    return {"tgz_md5": md5(archive),
            "train_list": [[f"data_batch_{b}", md5(batches / f"data_batch_{b}")] for b in range(1, 6)],
            "test_list": [["test_batch", md5(batches / "test_batch")]],
            "meta": {"filename": "batches.meta", "key": "label_names", "md5": md5(batches / "batches.meta")}}


def patch_cifar10_md5(monkeypatch, md5s: dict) -> None:
    """Make torchvision's CIFAR10 expect the fakes' checksums (for the length of one test)."""
    import torchvision
    for attr, value in md5s.items():
        monkeypatch.setattr(torchvision.datasets.CIFAR10, attr, value)


def make_tiny_nus_wide(folder: str | Path, labels: np.ndarray, size: int = 16) -> Path:
    """Write one JPEG per row of `labels` (N, 21) into folder/images/ and the DeepHash list files.

    Image i is a flat colour that encodes i (decode with `nus_index`), so it survives
    JPEG and resizing. Rows go to test.txt / train.txt / database.txt in turns.
    """
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = {"test.txt": [], "train.txt": [], "database.txt": []}
    for i, row in enumerate(np.asarray(labels, np.uint8)):
        rel = f"images/{i:05d}.jpg"
        colour = (40 + 8 * (i // 400), 40 + 8 * ((i // 20) % 20), 40 + 8 * (i % 20))
        Image.new("RGB", (size + i % 3, size), colour).save(folder / rel, quality=95)
        lines[list(lines)[i % 3]].append(rel + " " + " ".join(map(str, row.tolist())))
    for name, rows in lines.items():
        (folder / name).write_text("\n".join(rows) + "\n")
    return folder


def nus_index(images: np.ndarray) -> np.ndarray:
    """The index encoded by `make_tiny_nus_wide` in each (N, H, W, 3) image's mean colour."""
    mean = np.asarray(images, np.float64).mean(axis=(1, 2))
    steps = np.rint((mean - 40) / 8).astype(np.int64)
    return steps[:, 0] * 400 + steps[:, 1] * 20 + steps[:, 2]


def write_params(path: str | Path, **data) -> Path:
    """The repository's params.yaml with the given `data:` keys replaced, written to `path`."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(data)
    Path(path).write_text(yaml.safe_dump(params, sort_keys=False))
    return Path(path)


def write_fake_imagenet_weights(torch_home: str | Path, arch: str, seed: int = 0) -> tuple[Path, dict]:
    """A state dict of torchvision's `arch` (random values, the right keys and shapes) written where
    torch.hub keeps the ImageNet weights under `torch_home` (TORCH_HOME): (the file, the state dict)."""
    import torch
    import torchvision
    from urllib.parse import urlparse

    weights = torchvision.models.get_model_weights(arch).DEFAULT
    torch.manual_seed(seed)
    state = getattr(torchvision.models, arch)(weights=None).state_dict()
    path = Path(torch_home) / "hub" / "checkpoints" / Path(urlparse(weights.url).path).name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path, state
