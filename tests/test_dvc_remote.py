"""Artifacts shared through a DVC remote, as the README's "Sharing artifacts" section says.

The tiny pipeline (tests/test_dag.py's) is run by `dvc repro` in a copy of the checkout,
committed to that copy's git, and pushed to a remote that is a local folder. A fresh
`git clone` of the copy then pulls: it gets every cached artifact (data/prepared, every
model, every codes file) byte for byte, `dvc status` has nothing to report, and
`dvc repro` runs no stage. Slow (tests/tiny.py's tiny run, ~2 min on 2 cores, made once per pytest process).
"""

import hashlib
import subprocess

import pytest
import yaml

from dth.names import student_name, teacher_name, ternary_name
from dth.params import method_seeds, student_methods
from tests.test_dag import ENV, run
from tests.tiny import local_dvc_run


GIT_ID = ["-c", "user.name=dth tests", "-c", "user.email=tests@dth.invalid"]


def git(work, *args) -> str:
    p = subprocess.run(["git", *GIT_ID, *args], cwd=work, env=ENV, capture_output=True, text=True)
    assert p.returncode == 0, f"git {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p.stdout


# dvc.yaml: results/ is committed to git (cache: false), every other output is in the DVC cache
CACHED = ("data/prepared", "models", "codes")


def cached_files(work) -> dict[str, str]:
    """{path: md5} of every file of the cached outputs (.gitignore files that DVC writes aside)."""
    lock = yaml.safe_load((work / "dvc.lock").read_text())
    outs = {o["path"] for stage in lock["stages"].values() for o in stage.get("outs", [])}
    assert {o for o in outs if not o.startswith("results/")} and all(
        o.startswith(CACHED) for o in outs if not o.startswith("results/")), sorted(outs)
    return {str(p.relative_to(work)): hashlib.md5(p.read_bytes()).hexdigest()
            for top in CACHED if (work / top).is_dir()
            for p in sorted((work / top).rglob("*")) if p.is_file() and not p.name.startswith(".")}


def expected_models_and_codes(params: dict) -> set[str]:
    """Every model and codes file that the run of `params` makes (the DAG's MODELS)."""
    bits, q = params["bits"], params["quantize"]
    ternary = [ternary_name(q["layers"], k, t) for k in bits for t in q["t"]] + \
              [ternary_name(q["compare_layers"], k, q["compare_t"]) for k in bits]
    students = [student_name(m, k, s) for m in student_methods(params) for k in bits for s in method_seeds(params, m)]
    return ({"models/teacher.pt", "models/teacher-train-hash.npz"}
            | {f"models/{n}.pt" for n in students}
            | {f"models/{n}.{ext}" for n in ternary for ext in ("pt", "npz")}
            | {f"codes/teacher/{teacher_name(k)}.npz" for k in bits}
            | {f"codes/{n}.npz" for n in students + ternary})


@pytest.mark.slow
def test_artifacts_shared_through_a_dvc_remote(tmp_path, tmp_path_factory):
    work = local_dvc_run(tmp_path_factory)
    produced = cached_files(work)
    # what a reader of the README would pull: the prepared data, every model, every codes file
    assert any(p.startswith("data/prepared/") for p in produced)
    expected = expected_models_and_codes(yaml.safe_load((work / "params.yaml").read_text()))
    assert len(expected) == 15  # 9 models (2 ternary as .pt and packed .npz), 6 codes files
    assert {p for p in produced if p.startswith(("models/", "codes/"))} == expected

    # the run, committed (dvc.lock, params, the uncached results), then pushed to a folder remote
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], work)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "tiny run, with a DVC remote")
    pushed = run(["dvc", "push"], work)
    assert "pushed" in pushed, pushed
    assert "in sync" in run(["dvc", "status", "--cloud"], work)

    # elsewhere: a fresh clone has the code, params and dvc.lock, but none of the artifacts ...
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(work), str(clone))
    assert not any((clone / p).exists() for p in produced)
    # ... until `dvc pull` fetches every one of them, byte for byte
    run(["dvc", "pull"], clone)
    assert cached_files(clone) == produced
    # nothing to do: no stage changed, no output missing, and `dvc repro` runs none
    status = run(["dvc", "status"], clone)
    assert "Data and pipelines are up to date" in status, status
    repro = run(["dvc", "repro"], clone)
    assert "Running stage" not in repro, repro
    assert "Data and pipelines are up to date" in repro, repro
