"""Read the dataset named in params.yaml's `data:` section and write the prepared-data artifact.

    dth prepare                                   # params.yaml -> data/prepared/
    dth prepare --params my-params.yaml --out /tmp/prepared   # another params file and folder

params (data:):
    dataset     fashion-mnist | cifar10 | nus-wide
    protocol    fashion-mnist: 1k | 1k-10k | full; cifar10: 1k | 59k | full; nus-wide: 2100
                (default params.yaml: fashion-mnist 1k-10k; the protocols: docs/method.md, dth/splits.py)
    root        folder or archive of the source files; null = the default place (see dth/datasets.py):
                fashion-mnist: /usr/share/datasets/fashion-mnist, then data/raw/FashionMNIST/raw;
                cifar10: data/raw/ (cifar-10-batches-py/ or cifar-10-python.tar.gz);
                nus-wide: required (DeepHash list files *.txt + images)
    download    true: torchvision downloads a missing fashion-mnist / cifar10 into data/raw/ (md5-checked)
    image_size  nus-wide: images are decoded and resized to image_size x image_size RGB
    split_seed  seed of the query / train / database sampling

Output (format "dth-prepared/1", documented in dth/data.py): {query,train,database}_images.npy
(uint8 N x H x W x C), {query,train,database}_labels.npy (uint8 multi-hot) and manifest.json
(dataset, protocol, seed, counts per set and per class, image shape, sha256 of the sources).
The folder is written under a temporary name and renamed when complete, so an error or
Ctrl-C never leaves a half-written data/prepared/ behind. NUS-WIDE images are decoded one
at a time straight into memory-mapped .npy files, so the 195k images need not fit in RAM.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dth.data import FORMAT, SPLITS
from dth.datasets import Pool, load_image, read_pool
from dth.io import atomic_dir, write_json
from dth.params import load_params
from dth.timing import loop_timer
from dth.splits import check_protocol, split


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params.yaml", help="params file to read (default: params.yaml)")
    parser.add_argument("--out", default="data/prepared", help="output folder (default: data/prepared)")


def _write_decoded(pool: Pool, sets: dict[str, np.ndarray], size: int, folder: Path) -> str:
    """Decode each set's images into {set}_images.npy (memory-mapped); return the sha256 of all image files."""
    digests = np.zeros((len(pool.paths), 32), np.uint8)  # sha256 of each image file, in list order
    for name in SPLITS:
        index = sets[name]
        images = np.lib.format.open_memmap(folder / f"{name}_images.npy", mode="w+", dtype=np.uint8,
                                           shape=(len(index), size, size, 3))
        for row, i in enumerate(tqdm(index, desc=f"decoding {name} images", unit="img", mininterval=2.0)):
            images[row], digest = load_image(pool.paths[i], size)
            digests[i] = np.frombuffer(digest, np.uint8)
        images.flush()
        del images  # close the memory map before the folder is renamed
    return hashlib.sha256(digests.tobytes()).hexdigest()


def prepare(data: dict, out: str | Path) -> dict:
    """Write the prepared-data artifact for params `data` into `out`; return its manifest."""
    check_protocol(data["dataset"], data["protocol"])  # fail before reading any data
    pool = read_pool(data)
    sets = split(data["dataset"], data["protocol"], pool.labels, pool.original_test, data["split_seed"])
    sources = dict(pool.sources_sha256)
    with atomic_dir(out) as tmp:
        if pool.images is not None:
            image_shape = list(pool.images.shape[1:])
            for name in SPLITS:
                np.save(tmp / f"{name}_images.npy", pool.images[sets[name]])
        else:
            image_shape = [data["image_size"], data["image_size"], 3]
            # one digest over every image file's sha256, in list order
            sources["images"] = _write_decoded(pool, sets, data["image_size"], tmp)
        for name in SPLITS:
            np.save(tmp / f"{name}_labels.npy", pool.labels[sets[name]])
        manifest = {
            "format": FORMAT,
            "dataset": data["dataset"],
            "protocol": data["protocol"],
            "split_seed": data["split_seed"],
            "num_classes": len(pool.class_names),
            "class_names": pool.class_names,
            "image_shape": image_shape,
            "counts": {name: int(len(sets[name])) for name in SPLITS},
            "class_counts": {name: pool.labels[sets[name]].sum(axis=0, dtype=np.int64).tolist() for name in SPLITS},
            "sources_sha256": sources,
        }
        write_json(tmp / "manifest.json", manifest)
    return manifest


def main(args: argparse.Namespace) -> int:
    data = load_params(args.params)["data"]
    with loop_timer("prepare"):
        manifest = prepare(data, args.out)
    counts = manifest["counts"]
    print(f"{manifest['dataset']} {manifest['protocol']} (split_seed {manifest['split_seed']}): "
          f"query {counts['query']}, train {counts['train']}, database {counts['database']} images "
          f"of shape {tuple(manifest['image_shape'])} -> {args.out}")
    return 0
