"""The tiny pipeline of tests/test_dag.py, shared by the tests that need a finished run.

    from tests.tiny import tiny_checkout, local_dvc_run, dvc_run_copy, snakemake_run, metrics
    work = local_dvc_run(tmp_path_factory)      # `dvc repro` of the tiny pipeline, once per session
    mine = dvc_run_copy(tmp_path_factory, tmp_path / "repo")  # a copy of it, from any worker
    smk = snakemake_run(tmp_path_factory)       # a copy of a Snakemake run of it (Slurm's, or local)
    other = tiny_checkout(tmp_path / "x", tmp_path_factory)   # a fresh copy with the same params

The same data (make_tiny_fashion_mnist, 300 train / 50 test images, seed 0) and params
(tiny_params) as test_dag.py's end-to-end test. The local run is made at most once per
pytest process (each pytest-xdist worker of `make test` is one) and returned to every
caller (tests/test_dag.py and tests/test_dvc_remote.py; on one worker or on each of two):
callers must not change its outputs. The worker that makes it leaves a snapshot of it and its
metrics in the folder that every worker of the session shares: `local_metrics` gives a test on
another worker the metrics (tests/test_slurm.py compares its Slurm run with them) and
`dvc_run_copy` a copy (tests/test_every_key.py's experiment), each waiting there for the run
rather than run the pipeline a second time on the same cores.

The tiny data lie in that shared folder too, so that every copy of the session has the same
params.yaml (data.root included) on every worker. `snakemake_run` gives tests/test_dag.py a
finished Snakemake run to compare with the DVC run: a copy of tests/test_slurm.py's run (the
same Snakefile and params under the committed Slurm profile, `sharing_snakemake_run`) when that
test runs in this session and finishes, else one made here with `snakemake --cores 2`; either
way one Snakemake run of the whole pipeline per session, not two.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import time
from pathlib import Path

from tests.fakes import make_tiny_fashion_mnist
from tests.test_dag import checkout_copy, run, tiny_params

_SESSION: dict = {}


def tiny_data(factory) -> Path:
    """The tiny Fashion-MNIST of this session, written once into the folder that the workers share
    (each writes it in its own folder and renames that into place; a worker that finds it there
    takes it as it is: every worker writes the same bytes)."""
    if "data" not in _SESSION:
        made = make_tiny_fashion_mnist(factory.mktemp("tiny-fashion-mnist"), n_train=300, n_test=50)
        shared = _shared(factory, "tiny-fashion-mnist")
        if shared is not None:
            try:
                os.rename(made, shared)  # atomic; fails when another worker's is there already
            except OSError:
                assert (shared / "t10k-labels-idx1-ubyte.gz").is_file(), shared
            made = shared
        _SESSION["data"] = made
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


def _publish(done: Path, record: dict) -> None:
    """Write `record` to the shared file `done` at once (the other workers read it whole or not at all)."""
    tmp = done.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(done)


def _wait_for(factory, name: str, wait_s: float) -> dict | None:
    """The shared record `name`.json, waiting up to `wait_s` while `name`.started says a worker is
    making it; None without xdist, or when none has made it or is making it."""
    done, started = _shared(factory, f"{name}.json"), _shared(factory, f"{name}.started")
    if done is None:
        return None
    deadline = time.monotonic() + wait_s
    while not done.is_file() and started.is_file() and time.monotonic() < deadline:
        time.sleep(2)
    return json.loads(done.read_text()) if done.is_file() else None


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
        if done is not None:  # a snapshot that no test changes, for the other workers' copies
            snapshot = shutil.copytree(work, _shared(factory, "tiny-dvc-run-snapshot"), symlinks=True)
            _publish(done, {"snapshot": str(snapshot), "metrics": metrics(work)})
    return _SESSION["dvc"]


def dvc_run_copy(factory, dest: Path, wait_s: float = 1800) -> Path:
    """A copy at `dest` of the session's finished tiny `dvc repro` run (its snapshot, made by
    whichever worker ran it; this worker runs it when none has), to change at will."""
    shared = None if "dvc" in _SESSION else _wait_for(factory, "tiny-dvc-run", wait_s)
    if shared is None:
        local_dvc_run(factory)
        shared = _wait_for(factory, "tiny-dvc-run", 0) or {"snapshot": str(_SESSION["dvc"])}
    return shutil.copytree(shared["snapshot"], dest, symlinks=True)


@contextlib.contextmanager
def sharing_snakemake_run(factory, work: Path):
    """Around a test that runs the tiny pipeline to the end with Snakemake in `work`
    (tests/test_slurm.py): while it runs, the other workers' `snakemake_run` waits for it; when
    the test passes they copy `work`; when it fails they run Snakemake themselves."""
    started, done = _shared(factory, "tiny-snakemake-run.started"), _shared(factory, "tiny-snakemake-run.json")
    if started is None:
        yield
        return
    started.write_text(str(work))
    try:
        yield
    except BaseException:
        started.unlink(missing_ok=True)
        raise
    _publish(done, {"work": str(work)})


def snakemake_run(factory, wait_s: float = 1800) -> Path:
    """A finished Snakemake run of the tiny pipeline, in a folder of this worker (once per session):
    a copy of the run that `sharing_snakemake_run` announced (waiting up to `wait_s` for it to
    finish), else `snakemake --cores 2` in a fresh copy of the checkout."""
    if "smk" not in _SESSION:
        dest = factory.mktemp("tiny-snakemake-run") / "repo"
        shared = _wait_for(factory, "tiny-snakemake-run", wait_s)
        if shared is not None:
            shutil.copytree(shared["work"], dest, symlinks=True)
            print(f"tiny pipeline, Snakemake: a copy of the Slurm run in {shared['work']}")
        else:
            tiny_checkout(dest, factory)
            run(["snakemake", "--cores", "2"], dest, timeout=1800)
        _SESSION["smk"] = dest
    return _SESSION["smk"]


def local_metrics(factory, wait_s: float = 1800) -> dict[str, dict]:
    """metrics(local_dvc_run(factory)), read from another worker's run when one has made or is
    making it (waiting up to `wait_s` for it to finish), else from this worker's own."""
    shared = None if "dvc" in _SESSION else _wait_for(factory, "tiny-dvc-run", wait_s)
    return shared["metrics"] if shared is not None else metrics(local_dvc_run(factory))


def metrics(work: Path) -> dict[str, dict]:
    """{path: content} of a finished run's metrics: results/metrics/<model>.json and results/summary.json."""
    files = sorted((work / "results" / "metrics").glob("*.json")) + [work / "results" / "summary.json"]
    return {str(p.relative_to(work)): json.loads(p.read_text()) for p in files}
