"""DVC and Snakemake describe the same DAG: the same commands, and the same artifacts.

Both run in copies of this checkout under tmp_path, never in the checkout itself.
The tiny end-to-end run (marked slow, about 5 minutes on 2 cores) uses a tiny
Fashion-MNIST in the exact idx format, two code lengths, two thresholds, one epoch.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakes import make_tiny_fashion_mnist

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}


def checkout_copy(dest: Path, params: dict | None = None) -> Path:
    """The files git would have in a fresh clone (tracked and untracked-not-ignored), minus results."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        # results/experiments.csv is an input of the report (exported by hand from `dvc exp show`)
        if (rel.startswith("results/") and rel != "results/experiments.csv") or rel == "dvc.lock" \
                or not (REPO / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    if params is not None:
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def run(cmd: list[str], cwd: Path, timeout: int = 900) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p.stdout + p.stderr


def normalise(command: str) -> str:
    command = re.sub(r"\s+2>\s*\S+", "", command)  # Snakemake's per-job log redirection
    return " ".join(command.split())


def dvc_commands(work: Path) -> list[str]:
    out = run(["dvc", "repro", "--dry", "--force"], work)
    return sorted(normalise(line[2:]) for line in out.splitlines() if line.startswith("> "))


def snakemake_commands(work: Path) -> list[str]:
    out = run(["snakemake", "-n", "-p", "--forceall", "--cores", "1"], work)
    prefix = "Shell command: "
    return sorted(normalise(line[len(prefix):]) for line in out.splitlines()
                  if line.startswith(prefix + "dth "))  # rule `all` has no command


def test_dvc_and_snakemake_list_the_same_commands(tmp_path):
    work = checkout_copy(tmp_path / "repo")
    dvc = dvc_commands(work)
    smk = snakemake_commands(work)
    assert len(dvc) > 50  # the default run: every stage of the matrix
    assert dvc == smk, "\n".join(sorted(set(dvc) ^ set(smk))[:20])


def tiny_params(data_root: Path) -> dict:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p.update(bits=[8, 16], seeds=[0], seed=0)
    p["data"].update(dataset="fashion-mnist", protocol="full", root=str(data_root))
    for section in ("teacher", "student"):
        p[section].update(epochs=1, batch_size=32, warmup_epochs=0)
    p["teacher"]["arch"] = "resnet18"
    p["student"].update(val_queries=20, val_database=100)
    p["quantize"].update(t=[0.1, 0.3], epochs=1, compare_t=0.1)
    p["evaluate"].update(precision_at=100)
    return p


def artifacts(work: Path) -> set[str]:
    found = set()
    for top in ("data/prepared", "models", "codes", "results"):
        for path in (work / top).rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                found.add(str(path.relative_to(work)))
    return found


@pytest.mark.slow
def test_tiny_pipeline_under_dvc_and_snakemake(tmp_path):
    data_root = make_tiny_fashion_mnist(tmp_path / "fashion-mnist", n_train=300, n_test=50)
    params = tiny_params(data_root)
    by_dvc = checkout_copy(tmp_path / "dvc", params)
    by_smk = checkout_copy(tmp_path / "smk", params)
    run(["dvc", "repro"], by_dvc)
    run(["snakemake", "--cores", "2"], by_smk)

    produced = artifacts(by_dvc)
    assert produced == artifacts(by_smk)
    assert "results/REPORT.md" in produced
    for name in ("teacher-8", "dsh-16-s0", "dth-8-s0", "ttq-fc-16-t0.3", "ttq-fc+conv-8-t0.1"):
        assert f"results/metrics/{name}.json" in produced
    # same commands, same seed, same machine: the same numbers
    for path in sorted(p for p in produced if p.startswith("results/metrics/")):
        assert json.loads((by_dvc / path).read_text()) == json.loads((by_smk / path).read_text()), path

    # nothing left to do for either tool once it has run
    assert "Nothing to be done" in run(["snakemake", "--cores", "1", "-n"], by_smk)
    assert "up to date" in run(["dvc", "status"], by_dvc) or "Data and pipelines are up to date" in run(
        ["dvc", "status"], by_dvc)
