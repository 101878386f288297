"""Helpers shared by `dth service-search` and `dth service-latency` (dth/service_search.py,
dth/service_latency.py): model files from path templates, the CPU a timing ran on, and the
median / 95th percentile of a list of timings.

    from dth.service_common import fill, load_teacher, load_student, cpu_info, summary_us
    path = fill("models/dth-{bits}-s{seed}.pt", bits=12, seed=0)   # models/dth-12-s0.pt
    teacher = load_teacher("models/teacher.pt", bits=[12, 24], shape=(28, 28, 1))
    student = load_student(path, 12, shape=(28, 28, 1))
    with one_thread():          # torch and faiss on one thread; the previous count is restored after
        cpu_info()              # {"model": "AMD EPYC ...", "device": "cpu", "threads": 1, ...}
    summary_us([0.001, 0.002])  # {"median": 1500.0, "p95": 1950.0, "queries": 2}

Every problem a user can fix (a missing file, a model without the head k, a model built for
other images) raises DthError with one line naming the file and what was expected.
"""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import numpy as np
import torch

from dth.errors import DthError
from dth.hamming import load_hash_model

TEMPLATE_KEYS = ("bits", "seed", "layers", "t")


def add_model_arguments(parser) -> None:
    """The arguments both service stages take: the params, the prepared data and the models."""
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--data", default="data/prepared", help="prepared data folder (default: data/prepared)")
    parser.add_argument("--teacher", default="models/teacher.pt",
                        help="teacher checkpoint (default: models/teacher.pt)")
    parser.add_argument("--students", default="models/dth-{bits}-s{seed}.pt",
                        help="DTH student per k: {bits} -> k, {seed} -> params seed "
                             "(default: models/dth-{bits}-s{seed}.pt)")


def fill(template: str, **values) -> Path:
    """`template` with each {key} of TEMPLATE_KEYS that `values` gives replaced by its value."""
    text = str(template)
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return Path(text)


def check_shape(model, path, shape: tuple) -> None:
    if tuple(model.input_shape) != tuple(shape):
        raise DthError(f"model {path} was built for images of {tuple(model.input_shape)} (H, W, C), "
                       f"but the prepared images are {tuple(shape)}")


def load_teacher(path, bits: list[int], shape: tuple):
    """The teacher (eval mode, fp32) of `path`; it must have a hash head for every k of `bits`."""
    model = load_hash_model(path)
    if not hasattr(model, "hash_layers"):
        raise DthError(f"--teacher {path}: not a teacher checkpoint (no hash heads); expected models/teacher.pt")
    missing = [k for k in bits if str(k) not in model.hash_layers]
    if missing:
        raise DthError(f"--teacher {path}: no hash head for k in {missing} (params 'bits'); "
                       f"it has heads for k in {model.bits}")
    check_shape(model, path, shape)
    return model


def load_student(path, bits: int, shape: tuple):
    """A DSH-network student (a .pt checkpoint or a packed ternary .npz) of exactly `bits` bits."""
    model = load_hash_model(path)
    if not hasattr(model, "hash_layer"):
        raise DthError(f"{path}: not a student model (no hash_layer); expected a DSH-network student")
    if int(model.bits) != int(bits):
        raise DthError(f"{path}: a student of k={model.bits} bits, expected k={bits} (params 'bits')")
    check_shape(model, path, shape)
    return model


def student_penultimate(model, x):
    """The student's 500-d penultimate features: relu(fc(features(norm(x)))), the hash layer's input."""
    return torch.relu(model.fc(model.features(model.norm(x))))


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else platform.processor(), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_info() -> dict:
    """What a CPU timing needs beside it: the CPU's name and dth.hardware.describe of the CPU."""
    from dth.hardware import describe

    return {"model": cpu_name(), "machine": platform.machine(), **describe(torch.device("cpu"))}


@contextlib.contextmanager
def one_thread():
    """torch's and faiss's OpenMP on one thread inside the block (they may share one OpenMP runtime, so
    faiss.omp_set_num_threads(1) alone also slows torch down); both get back torch's count after."""
    import faiss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)


def summary_us(seconds: list[float]) -> dict:
    """{"median", "p95" (microseconds, 0.1 us), "queries"} of a list of timings in seconds."""
    us = np.asarray(seconds, np.float64) * 1e6
    return {"median": round(float(np.median(us)), 1), "p95": round(float(np.percentile(us, 95)), 1),
            "queries": int(len(us))}
