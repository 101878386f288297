"""The tiny pipeline of tests/test_dag.py, shared by the tests that need a finished local run.

    from tests.tiny import tiny_checkout, local_dvc_run, metrics
    work = local_dvc_run(tmp_path_factory)      # `dvc repro` of the tiny pipeline, once per session
    other = tiny_checkout(tmp_path / "x", tmp_path_factory)   # a fresh copy with the same params

The same data (make_tiny_fashion_mnist, 300 train / 50 test images, seed 0) and params
(tiny_params) as test_dag.py's end-to-end test. The local run is made at most once per
pytest process (each pytest-xdist worker of `make test` is one) and returned to every
caller (tests/test_dag.py and tests/test_dvc_remote.py; on one worker or on each of two):
callers must not change its outputs. `local_metrics` gives its metrics to a
test on another worker (tests/test_slurm.py compares its Slurm run with them): the worker
that makes the run leaves them in the folder that every worker of the session shares, and
the other waits for them there rather than run the pipeline a second time on the same cores.
"""

from __future__ import annotations

import copy
import json
import os
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


def _shared(factory, name: str) -> Path | None:
    """`name` in the folder shared by the pytest-xdist workers of this session (None without xdist)."""
    return factory.getbasetemp().parent / name if os.environ.get("PYTEST_XDIST_WORKER") else None


def local_dvc_run(factory) -> Path:
    """The tiny pipeline run by `dvc repro` in a copy of the checkout (once per session)."""
    if "dvc" not in _SESSION:
        started, done = _shared(factory, "tiny-dvc-run.started"), _shared(factory, "tiny-dvc-run.json")
        if started is not None:
            started.write_text(str(os.getpid()))
        work = tiny_checkout(factory.mktemp("tiny-dvc-run") / "repo", factory)
        start = time.monotonic()
        try:
            run(["dvc", "repro"], work, timeout=1800)
        except BaseException:
            if started is not None:
                started.unlink(missing_ok=True)  # a waiting worker runs it itself
            raise
        _SESSION["dvc"] = work
        _SESSION["dvc_seconds"] = time.monotonic() - start
        print(f"tiny pipeline, dvc repro, locally: {_SESSION['dvc_seconds']:.0f} s")
        if done is not None:
            tmp = done.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(metrics(work)))
            tmp.replace(done)
    return _SESSION["dvc"]


def local_metrics(factory, wait_s: float = 1800) -> dict[str, dict]:
    """metrics(local_dvc_run(factory)), read from another worker's run when one has made or is
    making it (waiting up to `wait_s` for it to finish), else from this worker's own."""
    done, started = _shared(factory, "tiny-dvc-run.json"), _shared(factory, "tiny-dvc-run.started")
    if "dvc" not in _SESSION and done is not None:
        deadline = time.monotonic() + wait_s
        while not done.is_file() and started.is_file() and time.monotonic() < deadline:
            time.sleep(2)
        if done.is_file():
            return json.loads(done.read_text())
    return metrics(local_dvc_run(factory))


def metrics(work: Path) -> dict[str, dict]:
    """{path: content} of a finished run's metrics: results/metrics/<model>.json and results/summary.json."""
    files = sorted((work / "results" / "metrics").glob("*.json")) + [work / "results" / "summary.json"]
    return {str(p.relative_to(work)): json.loads(p.read_text()) for p in files}
