"""DVC and Snakemake describe the same DAG: the same commands, each stage's code deps, a params
file from anywhere; and the helpers of the end-to-end tests (a copy of the checkout, the tiny
pipeline's params). Their finished runs are compared in tests/test_finished_runs.py.

Everything runs in copies of this checkout under tmp_path, never in the checkout itself.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml



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


def dvc_commands(work: Path, ordered: bool = False) -> list[str]:
    """The command of every stage of `work`'s DAG, sorted, or (ordered) in the order `dvc repro` runs them."""
    out = run(["dvc", "repro", "--dry", "--force"], work)
    commands = [normalise(line[2:]) for line in out.splitlines() if line.startswith("> ")]
    return commands if ordered else sorted(commands)


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
