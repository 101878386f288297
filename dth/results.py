"""The run's result files as tables: what the claims (dth/claims.py) and the report (dth/report.py) read.

    from dth.results import load_run
    run = load_run(params, Path("results"), attempts=Path("results/experiments.csv"))
    run.df            # one row per model the params define, with its metrics (map, precision_radius, ...)
    run.tern          # the ternary sweep (t, sparsity, bytes, mAP, change against the full-precision student)
    run.runs          # claim 3's runs: epochs to the convergence share, per method, k and seed
    run.attempts      # results/experiments.csv's attempts, each with `current` (ran on today's training code)

Reports exactly the models that the params define (docs/artifacts.md, "Model names"):
teacher-k for k in `bits`; M-k-sS for every student method M (dsh, dth and the other
methods of `baselines`), k in `bits`, S in `seeds` (dsh, dth) or `baseline_seeds` (the others);
ttq-L-k-tT for L = quantize.layers, T in quantize.t, and L = quantize.compare_layers,
T = quantize.compare_t; M-A-k for every method M of `backbone_methods` on the teacher's
network A (teacher.arch). A file that one of them needs and that is missing stops with its
path and the stage that writes it; files of other models (an earlier run's) are ignored.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dth.errors import DthError
from dth.names import BACKBONE, backbone_head_name, backbone_name, student_name, teacher_name, ternary_name
from dth.params import METHOD_NAMES, method_seeds, student_methods

def expected_models(params: dict) -> pd.DataFrame:
    """One row per model the params define: model name, family, bits, seed, layers, t, method (the
    method of a head on the teacher's network, family `backbone`)."""
    rows = [{"model": teacher_name(k), "family": "teacher", "bits": k} for k in params["bits"]]
    rows += [{"model": student_name(m, k, s), "family": m, "bits": k, "seed": s}
             for m in student_methods(params) for k in params["bits"] for s in method_seeds(params, m)]
    q = params["quantize"]
    for layers, ts in ((q["layers"], q["t"]), (q["compare_layers"], [q["compare_t"]])):
        rows += [{"model": ternary_name(layers, k, t), "family": "ttq", "bits": k, "layers": layers,
                  "t": float(t)} for k in params["bits"] for t in ts]
    arch = params["teacher"]["arch"]
    rows += [{"model": backbone_head_name(m, arch, k), "family": BACKBONE, "bits": k, "method": m}
             for m in params["backbone_methods"] for k in params["bits"]]
    df = pd.DataFrame(rows, columns=["model", "family", "bits", "seed", "layers", "t", "method"])
    return df.drop_duplicates("model").reset_index(drop=True)


SWEEP_PREFIX = "lr-sweep:"  # results/experiments.csv rows of workflow/scripts/sweep_lr.py


def validation_text(holdout: int, database: int) -> str:
    """A sweep row's validation protocol (column `validation`): `holdout` training images held out,
    the last `database` of them the validation database (0: the training images are)."""
    if database:
        return f"{holdout - database} held-out queries vs {database} held-out images"
    return f"{holdout} held-out queries vs the training images"


def fill_validation(sweep: pd.DataFrame) -> pd.Series:
    """The `validation` column of sweep rows, filled for rows recorded before it existed (their
    command's --holdout queries against the training images)."""
    commands = sweep["set"].astype(str) if "set" in sweep else pd.Series("", index=sweep.index)
    held = [int(h) if isinstance(h, str) else 1000 for h in commands.str.extract(r"--holdout (\d+)")[0]]
    recorded = sweep["validation"] if "validation" in sweep else pd.Series(np.nan, index=sweep.index)
    older = pd.Series([validation_text(h, 0) for h in held], index=sweep.index)
    return recorded.astype(object).where(recorded.notna(), older)

WRITERS = {"service": "service_teacher / service_student", "metrics": "evaluate_*", "ternary": "ternarize", "speed": "evaluate_* / encode_teacher / encode_backbone", "train": "train_*/ternarize",
           "pr": "evaluate", "pn": "evaluate"}


def need(path: Path, kind: str) -> Path:
    if not path.exists():
        raise DthError(f"{path} is missing: the params define this model but its `{WRITERS[kind]}` stage has "
                       "not written it; run `dvc repro` (or snakemake) first")
    return path


def read_json(path: Path, kind: str) -> dict:
    try:
        return json.loads(need(path, kind).read_text())
    except json.JSONDecodeError as e:
        raise DthError(f"{path} is not valid JSON ({e}); rerun the stage that wrote it") from None


def metrics_table(results: Path, params: dict) -> pd.DataFrame:
    """The expected models with their metrics (map, map_tie_average, precision_radius, ...)."""
    models = expected_models(params)
    metrics = [read_json(results / "metrics" / f"{name}.json", "metrics") for name in models["model"]]
    return pd.concat([models, pd.DataFrame(metrics)], axis=1)


def map_label(params: dict) -> str:
    """mAP@all, or mAP@<topk> when params evaluate.topk is set (the NUS-WIDE preset: mAP@5000)."""
    topk = params["evaluate"]["topk"]
    return "mAP@all" if topk is None else f"mAP@{topk}"

def ternary_table(df: pd.DataFrame, ternary: dict[str, dict], full: dict) -> pd.DataFrame:
    rows = []
    for _, r in df[df["family"] == "ttq"].iterrows():
        rep = ternary[r["model"]]
        fp = full.get(r["bits"], np.nan)
        rows.append({
            "bits": r["bits"], "layers": r["layers"], "t": r["t"],
            "sparsity (%)": 100 * rep.get("sparsity", np.nan),
            "model bytes": rep.get("packed_file_bytes", np.nan),
            "fp32 bytes": rep.get("fp32_file_bytes", np.nan),
            "compression": rep.get("file_compression", np.nan),
            "fc compression": rep.get("fc_file_compression", np.nan),
            "mAP (%)": 100 * r["map"],
            "mAP full precision (%)": 100 * fp,
            "change (points)": 100 * (r["map"] - fp),
        })
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["layers", "bits", "t"]).reset_index(drop=True).round(3)


# ----------------------------------------------------------------------------- convergence (claim 3)

def convergence_epoch(curve: pd.DataFrame, share: float) -> tuple[int, float, float]:
    """(first epoch whose validation mAP reaches `share` of the final one, final mAP, the rise
    over the last quarter). Final = mean of the last tenth of the epochs (at least 3), so that
    one noisy epoch does not move the target; the rise compares it with the same window
    ending at three quarters of the run (a plateau rises by about 0)."""
    maps = curve["val_map"].to_numpy(dtype=float)
    n = len(maps)
    window = max(3, n // 10)
    final = float(maps[-window:].mean())
    hit = np.flatnonzero(maps >= share * final)
    epoch = int(curve["epoch"].iloc[hit[0]]) if len(hit) else n
    q3 = max(window, (3 * n) // 4)
    rise = final - float(maps[q3 - window:q3].mean())
    return epoch, final, rise


def stable_epochs(student: dict) -> int:
    """The epochs of a student's run before its final learning-rate decay (student.decay_epochs):
    claim 3 reads the curves there, where the rate is constant and only learning moves them."""
    return student["epochs"] - (student["decay_epochs"] if student["schedule"] == "constant" else 0)


def convergence_runs(results: Path, params: dict) -> pd.DataFrame:
    """Claim 3's runs: every student (both methods, every k of `bits`, every seed), from the
    per-epoch validation curve its training stage wrote (results/plots/train), up to the end
    of its constant-rate part (stable_epochs)."""
    rows = []
    share = params["convergence"]["share"]
    last = stable_epochs(params["student"])
    for method in ("dsh", "dth"):
        for k in params["bits"]:
            for s in params["seeds"]:
                path = need(results / "plots" / "train" / f"{student_name(method, k, s)}.csv", "train")
                curve = pd.read_csv(path)
                epoch, final, rise = convergence_epoch(curve[curve["epoch"] <= last], share)
                rows.append({"method": method, "bits": k, "seed": s, "epochs": epoch, "final": final,
                             "rise": rise})
    return pd.DataFrame(rows)


def convergence_verdict(runs: pd.DataFrame) -> tuple[bool, float]:
    """Holds when the distilled students take at least one epoch longer on average to reach
    the share, and longer in most of the paired (k, seed) runs; otherwise it does not hold."""
    paired = runs.pivot_table(index=["bits", "seed"], columns="method", values="epochs")
    diff = paired["dth"] - paired["dsh"]
    return bool(diff.mean() >= 1.0 and (diff > 0).mean() > 0.5), float(diff.mean())


def compared_families(df: pd.DataFrame) -> list[str]:
    """The compared methods of the run (params `baselines` but dsh), in the params' order."""
    return [f for f in dict.fromkeys(df["family"]) if f not in ("teacher", "dsh", "dth", "ttq", BACKBONE)]



def maps_of(df: pd.DataFrame, family: str, k: int, column: str = "map") -> np.ndarray:
    return df[(df["family"] == family) & (df["bits"] == k)][column].to_numpy(dtype=float)


def method_label(row) -> str:
    """How tables name a model's method: Teacher, DSH, ..., GreedyHash on the teacher's network,
    DTH-ternary fc t=0.05."""
    if row["family"] == "teacher":
        return "Teacher"
    if row["family"] in METHOD_NAMES:
        return METHOD_NAMES[row["family"]]
    if row["family"] == BACKBONE:
        return f"{METHOD_NAMES[row['method']]} on the teacher's network"
    return f"DTH-ternary {row['layers']} t={row['t']:g}"


# ----------------------------------------------------------------------------- recorded attempts

# The stages of dvc.yaml whose code decides a trained model's numbers (training, ternarize,
# encode, evaluate), and the params sections that only the claims, the report and the service
# stages read. An attempt recorded at another commit counts as today's when neither those
# stages' dth/ deps nor the other params sections changed since.
TRAINING_STAGES = ("prepare", "train_", "ternarize", "encode_", "evaluate_")
NOT_TRAINING_SECTIONS = {"claims", "service", "search"}


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def training_code(root: Path = Path(".")) -> list[str]:
    """The dth/ files that the TRAINING_STAGES of the work tree's dvc.yaml depend on (the
    repository holding `root`); [] outside a git work tree or without dvc.yaml."""
    top = _git("rev-parse", "--show-toplevel", cwd=root)
    dvc_yaml = Path(top.stdout.strip()) / "dvc.yaml"
    if top.returncode != 0 or not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {})
    return sorted({dep for name, stage in stages.items() if name.startswith(TRAINING_STAGES)
                   for dep in stage.get("deps", []) if dep.startswith("dth/")})


def attempt_is_current(commit, params: dict, root: Path = Path(".")) -> bool:
    """Whether an attempt run on `commit` trained with today's code and params: the training
    code (training_code: the deps under dth/ of dvc.yaml's training, ternarize, encode and
    evaluate stages) is the same at that commit and in the work tree, and so are its
    params.yaml's sections that training reads (all but NOT_TRAINING_SECTIONS) and `params`'.
    False when git does not know the commit (a copy of the repository without its history)
    or the work tree has no dvc.yaml to name the training code."""
    if not isinstance(commit, str) or not commit.strip():
        return False
    try:
        code = training_code(root)
        if not code or _git("diff", "--quiet", commit.strip(), "--", *code, cwd=root).returncode != 0:
            return False
        shown = _git("show", f"{commit.strip()}:params.yaml", cwd=root)
    except OSError:
        return False
    if shown.returncode != 0:
        return False
    then = yaml.safe_load(shown.stdout) or {}
    keep = lambda p: {k: v for k, v in p.items() if k not in NOT_TRAINING_SECTIONS}  # noqa: E731
    return keep(then) == keep(params)


def read_attempts(path: Path | None, params: dict) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(sweep rows, attempt rows) of results/experiments.csv; the attempts get a column `current`
    (attempt_is_current of their `commit`; rows recorded before commits were kept have none)."""
    if path is None or not Path(path).exists():
        return None, None
    try:
        recorded = pd.read_csv(path, dtype={"name": str, "set": str, "about": str, "commit": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DthError(f"{path}: not a readable CSV ({str(e).strip().splitlines()[-1]}); accepted: the file that "
                       "workflow/scripts/attempts.py writes (git checkout it, or rerun that script)") from None
    is_sweep = recorded["name"].str.startswith(SWEEP_PREFIX)
    attempts = recorded[~is_sweep].copy()
    commits = attempts["commit"] if "commit" in attempts else pd.Series(np.nan, index=attempts.index)
    root = Path(path).resolve().parent
    attempts["current"] = [attempt_is_current(c, params, root) for c in commits]
    return recorded[is_sweep], attempts


# ----------------------------------------------------------------------------- the service stages

def merge(into: dict, other: dict) -> dict:
    """`other` merged into `into`, nested dicts key by key (the service stages' per-model files)."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def read_service(folder: Path, params: dict) -> dict:
    """{"quality", "search", "latency"}: the files of the stages service_teacher and service_student
    (one per k) under `folder`, merged as if one process had measured every model."""
    out: dict = {"quality": {}, "search": {}, "latency": {}}
    for name in ["teacher", *[f"dth-{k}" for k in params["bits"]]]:
        for kind in out:
            merge(out[kind], read_json(folder / kind / f"{name}.json", "service"))
    return out


def service_curve(folder: Path, params: dict) -> pd.DataFrame:
    """The service_search stages' CSV rows (query time per model, k, index and database size)."""
    names = ["teacher", *[f"dth-{k}" for k in params["bits"]]]
    return pd.concat([pd.read_csv(need(folder / "curves" / f"{n}.csv", "service")) for n in names], ignore_index=True)


# ----------------------------------------------------------------------------- the whole run

@dataclass
class Run:
    params: dict
    df: pd.DataFrame                 # metrics_table
    tern: pd.DataFrame               # ternary_table
    ternary: dict                    # results/ternary/<model>.json
    speed: dict                      # results/speed/<name>.json (batched encoding throughput)
    teacher: dict                    # results/metrics/teacher.json
    runs: pd.DataFrame               # convergence_runs
    sweep: pd.DataFrame | None       # experiments.csv rows of the validation sweeps
    attempts: pd.DataFrame | None    # experiments.csv rows of the attempts, with `current`
    service: dict                    # results/service/{quality,search,latency}.json ({} where absent)
    results: Path                    # the folder all of it came from


def load_run(params: dict, results: Path, attempts: Path | None = None, service: Path | None = None) -> Run:
    """Everything the claims and the report read, from the files the other stages wrote."""
    df = metrics_table(results, params)
    ttq = df[df["family"] == "ttq"]["model"]
    ternary = {name: read_json(results / "ternary" / f"{name}.json", "ternary") for name in ttq}
    backbones = [backbone_name(m, params["teacher"]["arch"]) for m in params["backbone_methods"]]
    speed = {name: read_json(results / "speed" / f"{name}.json", "speed")
             for name in ["teacher", *df[df["family"].isin([*student_methods(params), "ttq"])]["model"], *backbones]}
    full = df[(df["family"] == "dth") & (df["seed"] == params["seed"])].set_index("bits")["map"].to_dict()
    sweep, recorded = read_attempts(attempts, params)
    found = read_service(service, params) if service is not None else {}
    return Run(params, df, ternary_table(df, ternary, full), ternary, speed,
               read_json(results / "metrics" / "teacher.json", "metrics"), convergence_runs(results, params),
               sweep, recorded, found, results)
