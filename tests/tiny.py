"""The tiny pipeline of tests/test_dag.py, shared by the tests that need a finished local run.

    from tests.tiny import tiny_checkout, local_dvc_run, metrics
    work = local_dvc_run(tmp_path_factory)      # `dvc repro` of the tiny pipeline, once per session
    other = tiny_checkout(tmp_path / "x", tmp_path_factory)   # a fresh copy with the same params

The same data (make_tiny_fashion_mnist, 300 train / 50 test images, seed 0) and params
(tiny_params) as test_dag.py's end-to-end test. The local run is made at most once per
pytest process (each pytest-xdist worker of `make test` is one) and returned to every
caller (tests/test_dvc_remote.py pushes it to a remote, tests/test_slurm.py compares the
metrics of its Slurm run with it): callers must not change its outputs.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from tests.fakes import make_tiny_fashion_mnist
from tests.test_dag import checkout_copy, run, tiny_params

_SESSION: dict = {}


def tiny_data(factory) -> Path:
    """The tiny Fashion-MNIST of this session (written once)."""
    if "data" not in _SESSION:
        _SESSION["data"] = make_tiny_fashion_mnist(factory.mktemp("tiny-fashion-mnist"), n_train=300, n_test=50)
    return _SESSION["data"]


def tiny_checkout(dest: Path, factory) -> Path:
    """A copy of this checkout at `dest` (git init'ed) whose params.yaml is the tiny pipeline's:
    the same params for every copy of the session, read from params.yaml once (an edit of
    params.yaml during the session does not make two copies differ)."""
    if "params" not in _SESSION:
        _SESSION["params"] = tiny_params(tiny_data(factory))
    dest.mkdir(parents=True, exist_ok=True)
    return checkout_copy(dest, copy.deepcopy(_SESSION["params"]))


def local_dvc_run(factory) -> Path:
    """The tiny pipeline run by `dvc repro` in a copy of the checkout (once per session)."""
    if "dvc" not in _SESSION:
        work = tiny_checkout(factory.mktemp("tiny-dvc-run") / "repo", factory)
        start = time.monotonic()
        run(["dvc", "repro"], work, timeout=1800)
        _SESSION["dvc"] = work
        _SESSION["dvc_seconds"] = time.monotonic() - start
        print(f"tiny pipeline, dvc repro, locally: {_SESSION['dvc_seconds']:.0f} s")
    return _SESSION["dvc"]


def metrics(work: Path) -> dict[str, dict]:
    """{path: content} of a finished run's metrics: results/metrics/<model>.json and results/summary.json."""
    files = sorted((work / "results" / "metrics").glob("*.json")) + [work / "results" / "summary.json"]
    return {str(p.relative_to(work)): json.loads(p.read_text()) for p in files}
