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
        # results/attempts.csv is an input of the report (written by workflow/scripts/attempts.py)
        if (rel.startswith("results/") and rel != "results/attempts.csv") or rel == "dvc.lock" \
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
    p["convergence"].update(bits=[8], epochs=3, val_queries=20, val_database=100)
    p["evaluate"].update(precision_at=100)
    return p


def artifacts(work: Path) -> set[str]:
    found = set()
    for top in ("data/prepared", "models", "codes", "results"):
        for path in (work / top).rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                found.add(str(path.relative_to(work)))
    return found


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The tiny pipeline run to the end by `dvc repro` in one copy of the checkout and by
    `snakemake --cores 2` in another: (dvc copy, snakemake copy)."""
    tmp = tmp_path_factory.mktemp("tiny")
    data_root = make_tiny_fashion_mnist(tmp / "fashion-mnist", n_train=300, n_test=50)
    params = tiny_params(data_root)
    by_dvc = checkout_copy(tmp / "dvc", params)
    by_smk = checkout_copy(tmp / "smk", params)
    run(["dvc", "repro"], by_dvc)
    run(["snakemake", "--cores", "2"], by_smk)
    return by_dvc, by_smk


@pytest.mark.slow
def test_tiny_pipeline_under_dvc_and_snakemake(tiny_runs):
    by_dvc, by_smk = tiny_runs
    produced = artifacts(by_dvc)
    assert produced == artifacts(by_smk)
    assert "results/REPORT.md" in produced
    for name in ("teacher-8", "dsh-16-s0", "dth-8-s0", "ttq-fc-16-t0.3", "ttq-fc+conv-8-t0.1", "teacher"):
        assert f"results/metrics/{name}.json" in produced
    assert {"results/plots/convergence/dsh-8-s0.csv", "results/plots/convergence/dth-8-s0.csv",
            "results/summary.json", "results/figures/convergence.png"} <= produced
    # same commands, same seed, same machine: the same numbers
    for path in sorted(p for p in produced if p.startswith("results/metrics/") or p == "results/summary.json"):
        assert json.loads((by_dvc / path).read_text()) == json.loads((by_smk / path).read_text()), path

    # nothing left to do for either tool once it has run
    assert "Nothing to be done" in run(["snakemake", "--cores", "1", "-n"], by_smk)
    assert "up to date" in run(["dvc", "status"], by_dvc)


# One key of each params section (and each top-level key) changed to another valid value.
# `search` is read by no stage: neither tool may plan anything for it.
CHANGES = [
    ("bits", [8, 12]), ("seeds", [0, 1]), ("seed", None), ("data.split_seed", 1), ("teacher.lr", 0.01),
    ("student.lr", 0.002), ("dsh.alpha", 0.02), ("distill.weight", 2.0), ("quantize.t", [0.1, 0.2]),
    ("quantize.epochs", 2), ("convergence.epochs", 4), ("encode.batch_size", 512), ("evaluate.radius", 3),
    ("search.topk", 5),
]


def with_change(params: dict, key: str, value) -> dict:
    p = yaml.safe_load(yaml.safe_dump(params))
    if key == "seed":  # the seed must stay one of `seeds`
        p["seeds"], p["seed"] = [0, 1], 1
        return p
    node = p
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    assert last in node, key
    node[last] = value
    return p


def dvc_plan(work: Path) -> list[str]:
    out = run(["dvc", "repro", "--dry"], work)
    return sorted(normalise(line[2:]) for line in out.splitlines() if line.startswith("> "))


def snakemake_plan(work: Path, *extra: str) -> list[str]:
    out = run(["snakemake", "-n", "-p", "--cores", "1", *extra], work)
    prefix = "Shell command: "
    return sorted(normalise(line[len(prefix):]) for line in out.splitlines() if line.startswith(prefix + "dth "))


@pytest.mark.slow
def test_dvc_and_snakemake_plan_the_same_reruns_after_a_params_change(tiny_runs):
    """After a finished run, a change of any params key makes both tools plan the same
    commands (the changed stages and what depends on them), and nothing for `search`."""
    by_dvc, by_smk = tiny_runs
    original = yaml.safe_load((by_dvc / "params.yaml").read_text())
    plans = {}
    try:
        for key, value in CHANGES:
            changed = yaml.safe_dump(with_change(original, key, value), sort_keys=False)
            (by_dvc / "params.yaml").write_text(changed)
            (by_smk / "params.yaml").write_text(changed)
            plans[key] = dvc_plan(by_dvc), snakemake_plan(by_smk)
    finally:
        for work in (by_dvc, by_smk):
            (work / "params.yaml").write_text(yaml.safe_dump(original, sort_keys=False))
    for key, (dvc, smk) in plans.items():
        assert dvc == smk, f"{key}: planned by only one tool:\n" + "\n".join(sorted(set(dvc) ^ set(smk))[:10])
    assert plans["search.topk"] == ([], [])
    # a change reruns what it affects, not more: one new threshold adds its own jobs and the
    # report; the other thresholds' models stay
    new_t = plans["quantize.t"][0]
    assert any("--t 0.2 " in c for c in new_t) and not any("--t 0.3 " in c or "--t 0.1 --layers fc " in c
                                                           for c in new_t if c.startswith("dth ternarize"))
    assert not any(c.startswith(("dth train", "dth prepare")) for c in plans["evaluate.radius"][0])
    assert any(c.startswith("dth prepare") for c in plans["data.split_seed"][0])


@pytest.mark.slow
def test_a_preset_reruns_everything_from_prepare_under_both_tools(tiny_runs):
    """`snakemake --configfile configs/X.yaml` and `cp configs/X.yaml params.yaml; dvc repro`
    plan the same commands (up to the params file's name), from `prepare` on."""
    by_dvc, by_smk = tiny_runs
    original = (by_dvc / "params.yaml").read_text()
    try:
        shutil.copy(by_dvc / "configs" / "cifar10.yaml", by_dvc / "params.yaml")
        dvc = dvc_plan(by_dvc)
    finally:
        (by_dvc / "params.yaml").write_text(original)
    smk = [c.replace("--params configs/cifar10.yaml", "--params params.yaml")
           for c in snakemake_plan(by_smk, "--configfile", "configs/cifar10.yaml")]
    assert any(c.startswith("dth prepare") for c in smk)
    assert sorted(dvc) == sorted(smk), "\n".join(sorted(set(dvc) ^ set(smk))[:10])
