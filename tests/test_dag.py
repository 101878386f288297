"""DVC and Snakemake describe the same DAG: the same commands, and the same artifacts.

Both run in copies of this checkout under tmp_path, never in the checkout itself.
The tiny end-to-end run (marked slow; docs/performance.md has its measured time) uses a tiny
Fashion-MNIST in the exact idx format, one code length, one threshold (and the fc+conv
comparison), one epoch.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dth.params import flat_keys


REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}


def checkout_copy(dest: Path, params: dict | None = None) -> Path:
    """The files git would have in a fresh clone (tracked and untracked-not-ignored), minus results."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        # results/experiments.csv is an input of the report (written by workflow/scripts/attempts.py)
        if (rel.startswith("results/") and rel != "results/experiments.csv") or rel == "dvc.lock" \
                or not (REPO / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    if params is not None:
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


def run(cmd: list[str], cwd: Path, timeout: int = 900, stdout_only: bool = False, env: dict | None = None) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
    return p.stdout if stdout_only else p.stdout + p.stderr


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
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["backbone_methods"] = ["greedyhash"]  # the default with the stages of the teacher's network
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc = dvc_commands(work)
    smk = snakemake_commands(work)
    assert len(dvc) > 50  # the default run: every stage of the matrix
    assert any(c.startswith("dth train-backbone --params params.yaml --method greedyhash") for c in dvc)
    assert dvc == smk, "\n".join(sorted(set(dvc) ^ set(smk))[:20])


def project_imports(module: str) -> set[str]:
    """The dth modules that dth/<module>.py imports, at module level or inside functions."""
    import ast

    found = set()
    for node in ast.walk(ast.parse((REPO / "dth" / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dth":
            found |= {a.name for a in node.names} if node.module == "dth" else {node.module.split(".")[1]}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dth.")}
    return {m for m in found if (REPO / "dth" / f"{m}.py").exists()}


def package_files(module: str) -> set[str]:
    """The files beside dth/<module>.py that it reads, named as Path(__file__).with_name("...")."""
    text = (REPO / "dth" / f"{module}.py").read_text()
    return {f"dth/{name}" for name in re.findall(r'Path\(__file__\)\.with_name\("([^"]+)"\)', text)}


def code_closure(module: str) -> set[str]:
    """dth/<module>.py, every project module it imports (directly or through others), and the
    package files they read (the params schema)."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += sorted(project_imports(m))
    return {f"dth/{m}.py" for m in seen} | {f for m in seen for f in package_files(m)}


def test_project_imports_reads_imports_inside_functions():
    # dth/evaluate.py imports dth.encode inside main (only --model needs it)
    assert "encode" in project_imports("evaluate") and "params" in project_imports("evaluate")
    assert "dth/metrics.py" in code_closure("train_student")  # through dth/train.py
    assert "dth/params.schema.yaml" in code_closure("prepare")  # read by dth/params.py


def test_every_stage_lists_the_project_modules_its_code_imports():
    """A stage whose code imports a module that its deps miss would not rerun when that module
    changes, under either tool (the Snakefile's rules take their code deps from dvc.yaml)."""
    from dth.cli import STAGES

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages
    for name, stage in stages.items():
        command = " ".join(stage["cmd"].split())
        assert command.startswith("dth "), name
        module = STAGES[command.split()[1]][0]
        missing = code_closure(module) - set(stage["deps"])
        assert not missing, f"dvc.yaml stage {name}: deps miss {sorted(missing)}, which dth/{module}.py imports"


def tiny_params(data_root: Path) -> dict:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    # one code length: each job costs seconds of start-up, most of all under Slurm (tests/test_slurm.py);
    # several code lengths (one teacher head each) are run by tests/test_train.py's stages
    p.update(bits=[8], seeds=[0], seed=0, baseline_seeds=[0])
    p["baselines"] = ["greedyhash"]  # one compared method: the stage family, claim 6 and its figures
    p["data"].update(dataset="fashion-mnist", protocol="full", root=str(data_root))
    for section in ("teacher", "student"):
        p[section].update(epochs=1, batch_size=32, warmup_epochs=0)
    p["teacher"]["arch"] = "resnet18"
    p["student"].update(val_queries=20, val_database=100, decay_epochs=0)
    p["quantize"].update(t=[0.1], epochs=1, compare_t=0.1)
    p["evaluate"].update(precision_at=100)
    # the service stages at toy sizes: the 300 database images, then 700 grown ones
    p["service"].update(database_sizes=[300, 1000], search_queries=5, search_seconds=0.05, encode_queries=10,
                        warmup=1, ternary_t=0.1)
    return p


def artifacts(work: Path) -> set[str]:
    found = set()
    for top in ("data/prepared", "models", "codes", "results"):
        for path in (work / top).rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                found.add(str(path.relative_to(work)))
    return found


@pytest.fixture(scope="module")
def tiny_dvc(tmp_path_factory):
    """The tiny pipeline run to the end by `dvc repro` in a copy of the checkout (the session's
    shared run of tests/tiny.py). A test may change its params.yaml for a dry run, and must put it back."""
    from tests.tiny import local_dvc_run  # tests/tiny.py imports this module

    return local_dvc_run(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_runs(tiny_dvc, tmp_path_factory):
    """(the `dvc repro` copy, a Snakemake copy) of the tiny pipeline, both run to the end: the
    Snakemake one is a copy of tests/test_slurm.py's run under the committed Slurm profile when
    that run finished in this session, else run here by `snakemake --cores 2` (tests/tiny.py,
    snakemake_run). A test may change params.yaml of a copy for a dry run, and must put it back."""
    from tests.tiny import snakemake_run

    return tiny_dvc, snakemake_run(tmp_path_factory)


# ----------------------------------------------------------------------------- every key changes
# For every key of params.yaml, candidate values; the experiment takes, for each key, the
# first candidate that differs from the tiny run's value, so each key is changed at once to
# another valid value (the values are chosen to fit together and the tiny data).
CANDIDATES = {
    "seed": [1, 0], "bits": [[12], [8]], "seeds": [[1], [0]],
    "baselines": [["csq"], ["greedyhash"]],  # csq at 12 bits: the random-centre branch
    "baseline_seeds": [[1], [0]],  # with seeds [1]
    "backbone_methods": [["csq"], []],  # a compared method on the teacher's network, its stages and claim 6 table
    "data.root": None,  # set by the test: a smaller tiny data set in another folder
    "data.download": [True, False], "data.image_size": [32, 64], "data.split_seed": [1, 0],
    "teacher.arch": ["resnet34", "resnet18"], "teacher.stem_stride": [1, 2], "teacher.epochs": [2, 1],
    # ImageNet-shaped weights for resnet34 in the experiment's TORCH_HOME (below); 64 px: torchvision's stem
    "teacher.pretrained": ["imagenet", "none"], "teacher.input_size": [64, None],
    "teacher.batch_size": [64, 32], "teacher.optimizer": ["sgd", "adam"], "teacher.lr": [0.01, 0.02],
    "teacher.weight_decay": [1e-4, 0.0], "teacher.schedule": ["step", "cosine"], "teacher.warmup_epochs": [1, 0],
    "teacher.amp": ["none", "bf16"], "teacher.augment": ["flip", "none"], "teacher.crop_pad": [2, 3],
    "teacher.val_queries": [10, 20], "teacher.val_database": [50, 100],
    "student.epochs": [2, 1], "student.batch_size": [64, 32], "student.optimizer": ["sgd", "adam"],
    "student.lr": [0.01, 0.02], "student.weight_decay": [1e-4, 0.0], "student.schedule": ["step", "cosine"],
    "student.warmup_epochs": [1, 0], "student.decay_epochs": [1, 0], "student.amp": ["none", "bf16"],
    "student.augment": ["crop+flip", "none"],  # crop+flip: valid with teacher_outputs online (below)
    "student.crop_pad": [2, 3], "student.val_queries": [10, 20], "student.val_database": [50, 100],
    "student.baseline_validate_every": [2, 5],
    "ce.lr": [0.01, 0.005], "ce.weight_decay": [1e-4, 0.0], "ce.epochs_factor": [2, 1],
    "dpsh.eta": [0.2, 0.1], "dpsh.lr": [0.01, 0.005], "dpsh.weight_decay": [1e-4, 0.0], "dpsh.epochs_factor": [2, 1],
    "dpsh.init_scale": [10.0, 1.0], "dpsh.memory_bank": [True, False],
    "hashnet.alpha_factor": [5.0, 10.0], "hashnet.beta_step_epochs": [1, 10], "hashnet.lr": [0.01, 0.005],
    "hashnet.weight_decay": [1e-4, 0.0], "hashnet.epochs_factor": [2, 1],
    "dch.gamma": [10.0, 20.0], "dch.lambda": [0.2, 0.1], "dch.lr": [0.01, 0.005], "dch.weight_decay": [1e-4, 0.0],
    "dch.epochs_factor": [2, 1],
    "greedyhash.alpha": [0.2, 0.1], "greedyhash.lr": [0.01, 0.005], "greedyhash.weight_decay": [1e-4, 0.0],
    "greedyhash.epochs_factor": [2, 1],
    "csq.lambda": [1e-3, 1e-4], "csq.centre_seed": [1, 0], "csq.lr": [0.01, 0.005], "csq.weight_decay": [1e-4, 0.0],
    "csq.epochs_factor": [2, 1],
    "dsh.margin_factor": [1.5, 2.0], "dsh.alpha": [0.02, 0.01],
    "distill.ce_weight": [0.5, 1.0], "distill.weight": [2.0, 1.0], "distill.temperature": [2.0, 1.0],
    "distill.loss": ["mse", "bce"], "distill.pairwise_weight": [0.1, 0.0], "distill.teacher_outputs": ["online", "cache"],
    "quantize.t": [[0.2], [0.1]], "quantize.layers": ["fc+conv", "fc"], "quantize.compare_layers": ["all", "fc"],
    "quantize.compare_t": [0.15, 0.1], "quantize.epochs": [2, 1], "quantize.lr": [1e-4, 1e-3],
    "quantize.scale_lr": [1e-4, 1e-3],
    "convergence.share": [0.9, 0.95],
    "encode.batch_size": [7, 1024], "encode.amp": ["none", "bf16"],
    "evaluate.topk": [50, None], "evaluate.precision_at": [30, 100], "evaluate.radius": [3, 2],
    "search.index": ["hash", "flat"], "search.topk": [5, 10], "search.hash_bits": [8, 16], "search.nflip": [1, 2],
    "claims.confidence": [0.9, 0.95], "claims.min_speedup": [5.0, 10], "claims.max_map_price": [1.0, 3.0],
    "service.database_sizes": [[300, 600], [300, 1000]], "service.growth_noise": [0.5, 0.25],
    "service.topk": [5, 10], "service.search_queries": [6, 5], "service.search_seconds": [0.1, 0.05],
    "service.encode_queries": [12, 10], "service.warmup": [2, 1],
    "service.ternary_t": [0.2, 0.1],  # one of quantize.t's other value above
}
# Keys whose other values need data the tiny DAG cannot have (torchvision checks CIFAR-10's
# md5s; the sampled protocols need thousands of images): their other values are run by
# tests/test_prepare.py on fakes in the upstream formats, through the same `prepare` code.
COVERED_BY_TEST_PREPARE = {"data.dataset", "data.protocol"}


def other_values(base: dict, data_root: str) -> dict:
    """{key: another valid value} for every key of `base` (tiny params), as described above."""
    values = {}
    flat = flat_keys(base)
    for key, candidates in CANDIDATES.items():
        if key == "data.root":
            values[key] = data_root
            continue
        values[key] = next(c for c in candidates if c != flat[key])
    return values


def test_every_params_key_has_another_value_that_validates(tmp_path):
    from dth.params import validate

    base = tiny_params(tmp_path / "data")
    keys = set(flat_keys(yaml.safe_load((REPO / "params.yaml").read_text())))
    assert keys == set(CANDIDATES) | COVERED_BY_TEST_PREPARE, "params.yaml and CANDIDATES disagree: " + str(
        sorted(keys ^ (set(CANDIDATES) | COVERED_BY_TEST_PREPARE)))
    values = other_values(base, str(tmp_path / "elsewhere"))
    flat = flat_keys(base)
    assert all(values[k] != flat[k] for k in values)
    changed = yaml.safe_load(yaml.safe_dump(base))
    for key, value in values.items():
        node = changed
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    validate(changed, source="changed")  # raises ParamsError naming the key if one is not valid


@pytest.mark.slow
def test_every_params_key_changed_runs_to_a_recorded_comparable_experiment(tiny_dvc, tmp_path):
    """`dvc exp run -S key=value` for every key at once: the experiment finishes, `dvc exp show`
    records it with the summary metrics, `dvc exp diff` compares it key by key with the
    baseline, and its report lists exactly the models of its own params."""
    # in a copy: the experiment changes the workspace, and the session's tiny run is shared
    by_dvc = shutil.copytree(tiny_dvc, tmp_path / "repo", symlinks=True)
    base = yaml.safe_load((by_dvc / "params.yaml").read_text())
    # data.root: another folder of Fashion-MNIST files, smaller than the tiny run's (100 train and 30
    # test images against 300 and 50): every stage of the experiment retrains, on a third of the images
    from tests.fakes import make_tiny_fashion_mnist
    elsewhere = make_tiny_fashion_mnist(tmp_path / "fashion-mnist-elsewhere", n_train=100, n_test=30, seed=1)
    values = other_values(base, str(elsewhere))
    subprocess.run(["git", "add", "-A"], cwd=by_dvc, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny run"],
                   cwd=by_dvc, check=True, capture_output=True)
    sets = [x for key, value in values.items() for x in ("-S", f"{key}={json.dumps(value)}")]
    from tests.fakes import write_fake_imagenet_weights
    write_fake_imagenet_weights(tmp_path / "torch-home", values["teacher.arch"])
    run(["dvc", "exp", "run", "-n", "every-key", *sets], by_dvc, timeout=1500,
        env={**ENV, "TORCH_HOME": str(tmp_path / "torch-home")})

    names = json.dumps(json.loads(run(["dvc", "exp", "show", "--json"], by_dvc, stdout_only=True)))
    assert "every-key" in names and "results/summary.json" in names
    diff = json.loads(run(["dvc", "exp", "diff", "--all", "--json"], by_dvc, stdout_only=True))
    summary_diff = diff["metrics"]["results/summary.json"]
    # a metric of both runs (no param value in its key) is compared (--all: even when equal, as
    # the tiny teachers' chance accuracy is); a code length only one run has, against nothing
    assert "diff" in summary_diff["teacher_accuracy"] and None not in summary_diff["teacher_accuracy"].values()
    assert summary_diff["dth_map.8"]["new"] is None and summary_diff["dth_map.12"]["old"] is None
    assert None not in (summary_diff["dth_map.8"]["old"], summary_diff["dth_map.12"]["new"])

    sweep = pd.read_csv(by_dvc / "results" / "tables" / "ternary_sweep.csv")
    assert set(sweep["layers"]) == {"fc+conv", "all"} and set(sweep["t"]) == {0.2, 0.15}
    report = (by_dvc / "results" / "REPORT.md").read_text()
    assert "mAP@50" in report and "mAP@all" not in report
    assert "radius 3" in (by_dvc / "results" / "APPENDIX.md").read_text()


@pytest.mark.slow
def test_tiny_pipeline_under_dvc_and_snakemake(tiny_runs):
    by_dvc, by_smk = tiny_runs
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


def dvc_plan(work: Path) -> list[str]:
    """What `dvc repro` would run: the changed stages and everything downstream of them, as
    Snakemake plans it. Plain `--dry` lists only the stages whose own inputs changed (it runs
    nothing, so it cannot know which outputs will change) and, in DVC 3.67, fails on a stage
    whose dependency an upstream stage has yet to make (treeverse/dvc#9021)."""
    out = run(["dvc", "repro", "--dry", "--force-downstream"], work)
    return sorted(normalise(line[2:]) for line in out.splitlines() if line.startswith("> "))


def snakemake_plan(work: Path, *extra: str) -> list[str]:
    out = run(["snakemake", "-n", "-p", "--cores", "1", *extra], work)
    prefix = "Shell command: "
    return sorted(normalise(line[len(prefix):]) for line in out.splitlines() if line.startswith(prefix + "dth "))


def both_plans(by_dvc: Path, by_smk: Path) -> tuple[list[str], list[str]]:
    """(dvc_plan, snakemake_plan), the two tools asked at the same time: each is one
    single-threaded Python process, so on 2 cores this halves the wait."""
    with ThreadPoolExecutor(2) as pool:
        dvc, smk = pool.submit(dvc_plan, by_dvc), pool.submit(snakemake_plan, by_smk)
        return dvc.result(), smk.result()


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
            plans[key] = both_plans(by_dvc, by_smk)
        # the same values with every section's keys in another order: nothing changed
        reordered = yaml.safe_dump(reverse_keys(original), sort_keys=False)
        (by_dvc / "params.yaml").write_text(reordered)
        (by_smk / "params.yaml").write_text(reordered)
        plans["keys reordered"] = both_plans(by_dvc, by_smk)
    finally:
        for work in (by_dvc, by_smk):
            (work / "params.yaml").write_text(yaml.safe_dump(original, sort_keys=False))
    for key, (dvc, smk) in plans.items():
        assert dvc == smk, f"{key}: planned by only one tool:\n" + "\n".join(sorted(set(dvc) ^ set(smk))[:10])
    assert plans["search.topk"] == ([], []) and plans["keys reordered"] == ([], [])
    # a change reruns what it affects, not more: one new threshold adds its own jobs and the
    # report; the other thresholds' models stay
    new_t = plans["quantize.t"][0]
    assert any("--t 0.2 " in c for c in new_t) and not any("--t 0.3 " in c or "--t 0.1 --layers fc " in c
                                                           for c in new_t if c.startswith("dth ternarize"))
    assert not any(c.startswith(("dth train", "dth prepare")) for c in plans["evaluate.radius"][0])
    assert any(c.startswith("dth prepare") for c in plans["data.split_seed"][0])
    # a method added to `baselines`, or one method's weight changed, reruns that method's own stages
    # and the report, nothing else
    for key, method in (("baselines", "ce"), ("greedyhash.alpha", "greedyhash")):
        plan = plans[key][0]
        assert plan and all(f"{method}-8-s0" in c or c.startswith(("dth claims", "dth report")) for c in plan), (key, plan)
        assert {c.split()[1] for c in plan} == {"train-student", "evaluate", "claims", "report"}, (key, plan)
    # a seed added to `seeds` trains dsh and dth there, the compared methods only when in `baseline_seeds`
    assert any("dsh-8-s1" in c for c in plans["seeds"][0]) and any("dth-8-s1" in c for c in plans["seeds"][0])
    assert not any("greedyhash-8-s1" in c for c in plans["seeds"][0])
    assert any("greedyhash-8-s1" in c for c in plans["baseline_seeds"][0])
    # a method added to `backbone_methods` trains, encodes and evaluates it on the teacher's network
    plan = plans["backbone_methods"][0]
    assert all("dsh-resnet18" in c or c.startswith(("dth claims", "dth report")) for c in plan), plan
    assert {c.split()[1] for c in plan} == {"train-backbone", "encode", "evaluate", "claims", "report"}, plan
    # the 95% level re-judges and re-renders, nothing else; a service param reruns the service stages
    assert {c.split()[1] for c in plans["claims.confidence"][0]} == {"claims", "report"}
    assert {c.split()[1] for c in plans["service.search_queries"][0]} == {"service", "claims", "report"}


@pytest.mark.slow
def test_both_tools_rerun_what_a_change_affects_on_this_machine(tiny_runs, tmp_path):
    """In copies of both finished runs, `claims.confidence` changed: `dvc repro` and `snakemake
    --cores 2` (Snakemake's local executor, the README's command; tiny_runs' Snakemake run may
    have come from Slurm) each run the claims and the report alone, and judge claim 6a alike."""
    copies = [shutil.copytree(work, tmp_path / name, symlinks=True) for work, name in zip(tiny_runs, ("dvc", "smk"))]
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


def test_a_configfile_outside_the_repository_is_read_by_every_job(tmp_path):
    """`snakemake --configfile /elsewhere/mine.yaml`: the plan's commands read that very file."""
    work = checkout_copy(tmp_path / "repo")
    preset = tmp_path / "elsewhere" / "mine.yaml"
    preset.parent.mkdir()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["quantize"]["t"] = [0.05, 0.4]
    preset.write_text(yaml.safe_dump(params, sort_keys=False))
    commands = snakemake_plan(work, "--forceall", "--configfile", str(preset))
    assert commands and all(f"--params {preset} " in c for c in commands)
    assert any("--t 0.4 " in c for c in commands)
