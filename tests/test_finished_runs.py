"""DVC and Snakemake on the finished tiny pipeline: the same artifacts and numbers, nothing left
to do, and after a change of params the same reruns (the stages the change affects and what
depends on them, nothing more).

Each test works on copies of the session's two finished tiny runs (tests/tiny.py): the `dvc
repro` run and the Snakemake one (a copy of tests/test_slurm.py's run under Slurm, else a local
`snakemake --cores 2`), so that `make test` can run them on several workers at once
(tests/conftest.py: they start last, as the Slurm run ends late). A test may change params.yaml
of a copy for a dry run, and must put it back. The tiny run (marked slow; docs/performance.md has
its measured time) uses a tiny Fashion-MNIST in the exact idx format, one code length, one
threshold (and the fc+conv comparison), one epoch.
"""

import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.test_dag import dvc_plan, run, snakemake_plan
from tests.tiny import dvc_run_copy, snakemake_run


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """(a DVC copy, a Snakemake copy) of the tiny pipeline, each run to the end, this module's own."""
    here = tmp_path_factory.mktemp("plans")
    by_smk = shutil.copytree(snakemake_run(tmp_path_factory), here / "smk", symlinks=True)
    return dvc_run_copy(tmp_path_factory, here / "dvc"), by_smk


def artifacts(work: Path) -> set[str]:
    found = set()
    for top in ("data/prepared", "models", "codes", "results"):
        for path in (work / top).rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                found.add(str(path.relative_to(work)))
    return found


@pytest.mark.slow
def test_tiny_pipeline_under_dvc_and_snakemake(finished_runs):
    by_dvc, by_smk = finished_runs
    produced = artifacts(by_dvc)
    assert produced == artifacts(by_smk)
    assert {"results/REPORT.md", "results/APPENDIX.md", "results/claims.json", "results/gallery/gallery.png",
            "results/service/quality/teacher.json", "results/service/latency/dth-8.json"} <= produced
    # the answer first: every claim and its verdict within REPORT.md's first 40 lines
    first = (by_dvc / "results" / "REPORT.md").read_text().splitlines()[:40]
    claims = json.loads((by_dvc / "results" / "claims.json").read_text())["claims"]
    for n, record in claims.items():
        assert any(line.startswith(f"| {n} ") and f"**{record['verdict']}" in line for line in first), n
    for name in ("teacher-8", "dsh-8-s0", "dth-8-s0", "greedyhash-8-s0", "ttq-fc-8-t0.1", "ttq-fc+conv-8-t0.1",
                 "teacher"):
        assert f"results/metrics/{name}.json" in produced
    assert {"results/plots/train/dsh-8-s0.csv", "results/plots/train/dth-8-s0.csv",
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
    ("quantize.epochs", 2), ("convergence.share", 0.9), ("encode.batch_size", 512), ("evaluate.radius", 3),
    ("search.topk", 5), ("baselines", ["greedyhash", "ce"]), ("greedyhash.alpha", 0.2),
    ("student.baseline_validate_every", 1), ("backbone_methods", ["dsh"]), ("baseline_seeds", None),
    ("claims.confidence", 0.9), ("service.search_queries", 6),
]


def with_change(params: dict, key: str, value) -> dict:
    p = yaml.safe_load(yaml.safe_dump(params, sort_keys=False))
    if key == "seed":  # the seed must stay one of `seeds`
        p["seeds"], p["seed"] = [0, 1], 1
        return p
    if key == "baseline_seeds":  # a subset of `seeds`
        p["seeds"], p["baseline_seeds"] = [0, 1], [0, 1]
        return p
    node = p
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    assert last in node, key
    node[last] = value
    return p


def reverse_keys(d):
    """`d` with the keys of every dict in reverse order (values unchanged)."""
    return {k: reverse_keys(d[k]) for k in reversed(list(d))} if isinstance(d, dict) else d


def both_plans(by_dvc: Path, by_smk: Path) -> tuple[list[str], list[str]]:
    """(dvc_plan, snakemake_plan), the two tools asked at the same time: each is one
    single-threaded Python process, so on 2 cores this halves the wait."""
    with ThreadPoolExecutor(2) as pool:
        dvc, smk = pool.submit(dvc_plan, by_dvc), pool.submit(snakemake_plan, by_smk)
        return dvc.result(), smk.result()


def _nothing(plan):
    assert plan == [], plan


def _new_threshold(plan):  # one new threshold adds its own jobs and the report; the others' models stay
    assert any("--t 0.2 " in c for c in plan) and not any("--t 0.3 " in c or "--t 0.1 --layers fc " in c
                                                          for c in plan if c.startswith("dth ternarize")), plan


def _no_training(plan):
    assert not any(c.startswith(("dth train", "dth prepare")) for c in plan), plan


def _prepare(plan):
    assert any(c.startswith("dth prepare") for c in plan), plan


def _own_stages(method):  # a method added to `baselines`, or its weight changed: its stages and the report
    def check(plan):
        assert plan and all(f"{method}-8-s0" in c or c.startswith(("dth claims", "dth report")) for c in plan), plan
        assert {c.split()[1] for c in plan} == {"train-student", "evaluate", "claims", "report"}, plan
    return check


def _new_seed(plan):  # a seed added to `seeds` trains dsh and dth there, not the compared methods
    assert any("dsh-8-s1" in c for c in plan) and any("dth-8-s1" in c for c in plan), plan
    assert not any("greedyhash-8-s1" in c for c in plan), plan


def _new_baseline_seed(plan):  # ... which train there once it is in `baseline_seeds`
    assert any("greedyhash-8-s1" in c for c in plan), plan


def _backbone(plan):  # a method added to `backbone_methods`: trained, encoded, evaluated on the teacher's network
    assert all("dsh-resnet18" in c or c.startswith(("dth claims", "dth report")) for c in plan), plan
    assert {c.split()[1] for c in plan} == {"train-backbone", "encode", "evaluate", "claims", "report"}, plan


def _kinds(*kinds):
    def check(plan):
        assert {c.split()[1] for c in plan} == set(kinds), plan
    return check


# What a change must rerun, and no more, beyond both tools planning the same commands.
PLAN_CHECKS = {
    "search.topk": _nothing,  # `search` is read by no stage
    "keys reordered": _nothing,
    "quantize.t": _new_threshold,
    "evaluate.radius": _no_training,
    "data.split_seed": _prepare,
    "baselines": _own_stages("ce"),
    "greedyhash.alpha": _own_stages("greedyhash"),
    "seeds": _new_seed,
    "baseline_seeds": _new_baseline_seed,
    "backbone_methods": _backbone,
    "claims.confidence": _kinds("claims", "report"),  # the 95% level re-judges and re-renders, nothing else
    "service.search_queries": _kinds("service", "claims", "report"),
}


def test_every_plan_check_has_its_change():
    assert set(PLAN_CHECKS) <= {key for key, _ in CHANGES} | {"keys reordered"}


@pytest.mark.slow
@pytest.mark.parametrize("half", [0, 1])
def test_dvc_and_snakemake_plan_the_same_reruns_after_a_params_change(half, finished_runs):
    """After a finished run, a change of any params key makes both tools plan the same
    commands (the changed stages and what depends on them, PLAN_CHECKS), and nothing for
    `search`. In two halves of CHANGES, which `make test` runs on two workers at once."""
    by_dvc, by_smk = finished_runs
    original = yaml.safe_load((by_dvc / "params.yaml").read_text())
    plans = {}
    try:
        for key, value in CHANGES[half::2]:
            changed = yaml.safe_dump(with_change(original, key, value), sort_keys=False)
            (by_dvc / "params.yaml").write_text(changed)
            (by_smk / "params.yaml").write_text(changed)
            plans[key] = both_plans(by_dvc, by_smk)
        if half:  # the same values with every section's keys in another order: nothing changed
            reordered = yaml.safe_dump(reverse_keys(original), sort_keys=False)
            (by_dvc / "params.yaml").write_text(reordered)
            (by_smk / "params.yaml").write_text(reordered)
            plans["keys reordered"] = both_plans(by_dvc, by_smk)
    finally:
        for work in (by_dvc, by_smk):
            (work / "params.yaml").write_text(yaml.safe_dump(original, sort_keys=False))
    for key, (dvc, smk) in plans.items():
        assert dvc == smk, f"{key}: planned by only one tool:\n" + "\n".join(sorted(set(dvc) ^ set(smk))[:10])
    for key, (dvc, _) in plans.items():
        if key in PLAN_CHECKS:
            PLAN_CHECKS[key](dvc)


@pytest.mark.slow
def test_both_tools_rerun_what_a_change_affects_on_this_machine(finished_runs, tmp_path):
    """In copies of both finished runs, `claims.confidence` changed: `dvc repro` and `snakemake
    --cores 2` (Snakemake's local executor, the README's command; the Snakemake run may
    have come from Slurm) each run the claims and the report alone, and judge claim 6a alike."""
    copies = [shutil.copytree(work, tmp_path / name, symlinks=True) for work, name in zip(finished_runs, ("dvc", "smk"))]
    for work in copies:
        params = yaml.safe_load((work / "params.yaml").read_text())
        params["claims"]["confidence"] = 0.9
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with ThreadPoolExecutor(2) as pool:
        by_dvc = pool.submit(run, ["dvc", "repro"], copies[0])
        by_smk = pool.submit(run, ["snakemake", "--cores", "2"], copies[1])
        dvc_out, smk_out = by_dvc.result(), by_smk.result()
    assert sorted(re.findall(r"Running stage '([\w@.-]+)'", dvc_out)) == ["claims", "report"], dvc_out[-2000:]
    table = smk_out.split("Job stats:", 1)[1].split("total", 1)[0]
    assert dict(re.findall(r"^(\w+)\s+(\d+)$", table, re.M)) == {"all": "1", "claims": "1", "report": "1"}, smk_out[-2000:]
    judged = [json.loads((work / "results" / "claims.json").read_text()) for work in copies]
    assert judged[0]["confidence"] == judged[1]["confidence"] == 0.9
    assert judged[0]["claims"]["6a"] == judged[1]["claims"]["6a"]


@pytest.mark.slow
def test_a_preset_reruns_everything_from_prepare_under_both_tools(finished_runs):
    """`snakemake --configfile configs/X.yaml` and `cp configs/X.yaml params.yaml; dvc repro`
    plan the same commands (up to the params file's name), from `prepare` on."""
    by_dvc, by_smk = finished_runs
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
