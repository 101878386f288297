"""Render the paper's tables and figures, REPORT.md and a summary metrics file, from the evaluated artifacts.

    dth report --results results --data data/prepared --gallery-codes codes/dth-12-s0.npz --out results

Reports exactly the models that the params define (docs/artifacts.md, "Model names"):
teacher-k for k in `bits`; M-k-sS for every student method M (dsh, dth and the other
methods of `baselines`), k in `bits`, S in `seeds` (dsh, dth) or `baseline_seeds` (the others);
ttq-L-k-tT for L = quantize.layers, T in quantize.t, and L = quantize.compare_layers,
T = quantize.compare_t; M-A-k for every method M of `backbone_methods` on the teacher's
network A (teacher.arch); the students' training curves for claim 3. A file
that one of them needs and that is missing stops the report with its path and the stage
that writes it; files of other models (an earlier run's) are ignored. Labels follow the
params: mAP@all or mAP@<evaluate.topk>, the precision within evaluate.radius.

Reads only what the other stages wrote (results/metrics, results/plots/{pr,pn,train},
results/ternary, results/speed, one codes file for the gallery, and
results/experiments.csv for the Attempts section) and writes:
    results/tables/*.md, *.csv   main mAP table, radius precision, ternary sweep,
                                 model size and encoding speed
    results/figures/*.png        PR and P@N curves per k, mAP against t, training and
                                 convergence curves, a retrieval gallery
    results/summary.json         the numbers of the tables and claims worth diffing,
                                 per method and k (means over seeds): the metrics file
                                 that `dvc exp show` / `dvc metrics diff` are best read on
    results/REPORT.md            the paper's claims (five on distillation and ternary weights,
                                 a sixth on the state-of-the-art methods), each with a
                                 verdict (holds / does not hold / inconclusive) and its numbers
No number in REPORT.md is typed by hand: each comes from those files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dth.data import load_manifest, load_split
from dth.errors import DthError
from dth.io import atomic_dir, write_json, write_text
from dth.names import BACKBONE, backbone_head_name, backbone_name, student_name, teacher_name, ternary_name
from dth.params import METHOD_NAMES, flat_keys, load_params, method_epochs, method_seeds, student_methods


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder the other stages wrote into (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data, for the gallery's images (default: %(default)s)")
    p.add_argument("--gallery-codes", required=True,
                   help="codes file whose queries the gallery shows, e.g. codes/dth-12-s0.npz")
    p.add_argument("--out", default="results",
                   help="where tables/, figures/, summary.json and REPORT.md go (default: %(default)s)")
    p.add_argument("--attempts", default=None,
                   help="CSV of recorded attempts (workflow/scripts/attempts.py) for REPORT.md's Attempts section")


# ----------------------------------------------------------------------------- the run's models

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

WRITERS = {"metrics": "evaluate_*", "ternary": "ternarize", "speed": "evaluate_* / encode_teacher / encode_backbone", "train": "train_*/ternarize",
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


def fmt_mean_std(values: pd.Series, scale: float = 100.0) -> str:
    v = values.dropna().to_numpy(dtype=float) * scale
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.2f}"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"


def write_table(df: pd.DataFrame, tables: Path, name: str, title: str, index: bool = True) -> str:
    """Write <name>.csv and <name>.md; return the markdown (with its title)."""
    df.to_csv(tables / f"{name}.csv", index=index)
    md = f"### {title}\n\n" + md_table(df.reset_index() if index else df) + "\n"
    (tables / f"{name}.md").write_text(md)
    return md


# ----------------------------------------------------------------------------- tables

def method_label(row) -> str:
    if row["family"] == "teacher":
        return "Teacher"
    if row["family"] in METHOD_NAMES:
        return METHOD_NAMES[row["family"]]
    if row["family"] == BACKBONE:
        return f"{METHOD_NAMES[row['method']]} on the teacher's network"
    return f"DTH-ternary {row['layers']} t={row['t']:g}"


def by_method_and_bits(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """method x bits table of mean ± std (in %) of `column` over seeds."""
    df = df.assign(method=df.apply(method_label, axis=1))
    order = list(dict.fromkeys(df["method"]))  # the order of expected_models: teacher, students, ternary
    table = df.groupby(["method", "bits"])[column].apply(fmt_mean_std).unstack("bits")
    table = table.reindex([m for m in order if m in table.index])
    table.columns = [f"{k} bits" for k in table.columns]
    table.index.name = "method"
    return table


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


# ----------------------------------------------------------------------------- figures

def figure_setup():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def compared_families(df: pd.DataFrame) -> list[str]:
    """The compared methods of the run (params `baselines` but dsh), in the params' order."""
    return [f for f in dict.fromkeys(df["family"]) if f not in ("teacher", "dsh", "dth", "ttq", BACKBONE)]


def best_compared(df: pd.DataFrame, k: int, n: int = 2) -> list[str]:
    """The n compared methods with the highest mean mAP at k bits."""
    sub = df[(df["bits"] == k) & df["family"].isin(compared_families(df))]
    return list(sub.groupby("family")["map"].mean().sort_values(ascending=False).index[:n])


def curve_figures(df: pd.DataFrame, results: Path, figures: Path, seed: int) -> list[str]:
    """PR and P@N per k, one line per method (students: seed `seed`, the two best compared
    methods at that k among them, at their first seed where `seed` is not one of theirs;
    ternary: smallest t)."""
    plt = figure_setup()
    written = []
    for k in sorted(df["bits"].unique()):
        sub = df[df["bits"] == k]
        chosen = list(sub[sub["family"] == "teacher"]["model"])
        for family in ["dsh", "dth", *best_compared(df, k)]:
            runs = sub[sub["family"] == family]
            chosen += list(runs[runs["seed"] == (seed if seed in set(runs["seed"]) else runs["seed"].min())]["model"])
        ttq = sub[sub["family"] == "ttq"].sort_values("t")
        for layers in ttq["layers"].unique():
            chosen.append(ttq[ttq["layers"] == layers]["model"].iloc[0])
        for kind, xcol, ycol, xlabel, title in (
                ("pr", "recall", "precision", "recall", f"Precision-recall over Hamming radius, {k} bits"),
                ("pn", "n", "precision", "N (top retrieved items)", f"Precision@N, {k} bits")):
            fig, ax = plt.subplots(figsize=(6, 4.2))
            for name in chosen:
                c = pd.read_csv(need(results / "plots" / kind / f"{name}.csv", kind))
                style = dict(marker="o", markersize=3) if kind == "pr" else {}
                ax.plot(c[xcol], c[ycol], label=name, **style)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("precision")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            out = figures / f"{kind}_{k}bits.png"
            fig.savefig(out, dpi=110)
            plt.close(fig)
            written.append(out.name)
    return written


def map_vs_t_figure(tern: pd.DataFrame, figures: Path, layers: str, label: str) -> str | None:
    t_df = tern[tern["layers"] == layers] if not tern.empty else tern
    if t_df.empty:
        return None
    plt = figure_setup()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax2 = ax.twinx()
    for k in sorted(t_df["bits"].unique()):
        s = t_df[t_df["bits"] == k].sort_values("t")
        line, = ax.plot(s["t"], s["mAP (%)"], marker="o", label=f"{label}, {k} bits")
        ax.axhline(s["mAP full precision (%)"].iloc[0], color=line.get_color(), ls=":", lw=1)
        ax2.plot(s["t"], s["model bytes"] / 1024, marker="s", ls="--", color=line.get_color(), alpha=0.5)
    ax.set_xlabel("ternary threshold t (delta = t * max|w|)")
    ax.set_ylabel(f"{label} (%)  (dotted: full precision)")
    ax2.set_ylabel("packed model size (KiB, dashed)")
    ax.set_title(f"Ternary student ({layers} layers): {label} and size against t")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(figures / "map_vs_t.png", dpi=110)
    plt.close(fig)
    return "map_vs_t.png"


def convergence_figure(results: Path, figures: Path, params: dict, runs: pd.DataFrame) -> str:
    """The students' validation mAP per epoch, mean over seeds, per k; dotted: the mean epoch
    at which each method first reaches convergence.share of its final mAP (claim 3)."""
    plt = figure_setup()
    bits, seeds, student = params["bits"], params["seeds"], params["student"]
    stable = stable_epochs(student)
    fig, axes = plt.subplots(1, len(bits), figsize=(3.6 * len(bits), 3.8), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], bits):
        for method in ("dsh", "dth"):
            curves = [pd.read_csv(results / "plots" / "train" / f"{student_name(method, k, s)}.csv") for s in seeds]
            mean = 100 * np.mean([c["val_map"].to_numpy(dtype=float) for c in curves], axis=0)
            line, = ax.plot(curves[0]["epoch"], mean, label=method.upper())
            e = runs[(runs["method"] == method) & (runs["bits"] == k)]["epochs"].mean()
            ax.axvline(e, color=line.get_color(), ls=":", lw=1)
        if stable < student["epochs"]:  # the final decay, not read by claim 3
            ax.axvspan(stable + 0.5, student["epochs"] + 0.5, color="0.9", lw=0)
        ax.set_title(f"{k} bits")
        ax.set_xlabel(f"epoch ({student['schedule']} lr {student['lr']:g})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(f"validation mAP (%), mean of {len(seeds)} seed(s)")
    fig.suptitle(f"Students' training curves; dotted: mean epoch reaching {params['convergence']['share']:.0%} "
                 "of the final validation mAP (claim 3); grey: the final lr decay, not read", fontsize=10)
    fig.tight_layout()
    fig.savefig(figures / "convergence.png", dpi=110)
    plt.close(fig)
    return "convergence.png"


def gallery_figure(codes_path: Path, data: Path, figures: Path, queries=(0, 1, 2, 3, 4)) -> str:
    """The first query images and their top 10, found the way `dth search` finds them."""
    from dth.gallery import Query, build_index, draw_gallery, search
    from dth.hamming import load_codes

    codes = load_codes(codes_path)
    q_images, _ = load_split(data, "query")
    db_images, db_labels = load_split(data, "database")
    index = build_index(codes["database_codes"], codes["bits"])
    chosen = [Query(name=f"query {i}", code=codes["query_codes"][i], image=np.asarray(q_images[i]),
                    labels=codes["query_labels"][i]) for i in queries]
    distances, indices = search(index, np.stack([q.code for q in chosen]), 10)
    out = figures / "gallery.png"
    draw_gallery(out, chosen, list(zip(distances, indices)), db_images, db_labels,
                 load_manifest(data).get("class_names", []))
    return out.name


# ----------------------------------------------------------------------------- claims

def maps_of(df: pd.DataFrame, family: str, k: int, column: str = "map") -> np.ndarray:
    return df[(df["family"] == family) & (df["bits"] == k)][column].to_numpy(dtype=float)


def mean_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean(a) - mean(b), the standard error of that difference, sqrt(var_a / n_a + var_b / n_b)),
    in points (x 100); a single value contributes no variance."""
    def var_over_n(x):
        return x.var(ddof=1) / len(x) if len(x) > 1 else 0.0
    return 100 * float(a.mean() - b.mean()), 100 * float(np.sqrt(var_over_n(a) + var_over_n(b)))


def seeds_text(seeds: list[int]) -> str:
    """Seeds in words: "seed 0" or "seeds [0, 1, 2]"."""
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {list(seeds)}"


def beats(a: np.ndarray, b: np.ndarray) -> tuple[bool | None, float, float]:
    """Claim 6's rule at one code length: True (holds) when mean(a) exceeds mean(b) by more than the
    standard error of their difference, False (does not hold) when b is ahead by more than it, None
    (a tie) otherwise; with the difference and its SE in points."""
    diff, se = mean_difference(a, b)
    return (True if diff > se else (False if diff < -se else None)), diff, se


def overall(flags: list[bool | None]) -> bool | None:
    """A claim judged at every code length: holds when it holds at each, does not hold when it
    fails at each, inconclusive otherwise."""
    if flags and all(f is True for f in flags):
        return True
    if flags and all(f is False for f in flags):
        return False
    return None


def verdict(flag: bool | None) -> str:
    return {True: "**holds**", False: "**does not hold**", None: "**inconclusive**"}[flag]


def md_table(rows) -> str:
    """Every table of REPORT.md in one style: pandas' pipe table of the cells as given (rows: a
    DataFrame or a list of dicts, one per row; strings are printed as they are)."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    return df.map(_cell).to_markdown(index=False, disable_numparse=True)


def _cell(value) -> str:
    """A table cell: NaN and None as '-', whole floats without '.0', others with up to 10 digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{value:.10g}"
    return str(value)


# The verdict rules, each a function of its inputs alone (tests/test_report.py covers holds,
# does not hold and inconclusive for each).

def distillation_verdict(per_k: list[bool | None]) -> bool | None:
    """Claim 1 from `beats(DTH, DSH)` at each code length: holds when DTH is ahead by more than
    the standard error at every k, does not hold when DSH is ahead by more than it at every k."""
    return overall(per_k)


def teacher_verdict(teacher_maps: list[float], student_maps: list[float], teacher_speed: float,
                    student_speed: float) -> bool:
    """Claim 2: the teacher's mean mAP is above the DTH student's at every k, and the student
    encodes faster (images/s)."""
    return bool(all(t > s for t, s in zip(teacher_maps, student_maps)) and student_speed > teacher_speed)


def convergence_claim_verdict(runs: pd.DataFrame, schedule: str) -> tuple[bool | None, float]:
    """Claim 3: convergence_verdict on the runs; inconclusive unless the students' learning rate
    was constant (a decaying rate flattens every curve by itself)."""
    holds, diff = convergence_verdict(runs)
    return (holds if schedule == "constant" else None), diff


def ternary_verdict(changes: list[float], tolerance: float = 1.0) -> bool:
    """Claim 4: every code length's mAP change (points) at the smallest t is within `tolerance`
    points below the full-precision student (a gain always counts)."""
    return bool(min(changes) >= -tolerance)


def layers_verdict(extra: list[float], costs: float = 1.0, free: float = 0.25) -> bool | None:
    """Claim 5 from the extra change (points) of the second layer set over the first at each k:
    holds when it loses more than `costs` points at every k, does not hold when it loses less
    than `free` at every k, inconclusive otherwise."""
    if extra and all(e < -costs for e in extra):
        return True
    if extra and all(e >= -free for e in extra):
        return False
    return None


# The claims: each returns (its markdown, its entries of summary.json).

def distillation_claim(df: pd.DataFrame, params: dict) -> tuple[str, dict]:
    """Claim 1: DTH against DSH, and against CE (the DTH objective without the teacher) when run."""
    label, bits, seeds = map_label(params), list(params["bits"]), params["seeds"]
    has_ce = "ce" in set(df["family"])
    rows, gains, flags, summary = [], [], [], {"dth_gain": {}}
    for k in bits:
        d, t = maps_of(df, "dsh", k), maps_of(df, "dth", k)
        flag, gain, se = beats(t, d)
        gains.append(gain)
        flags.append(flag)
        summary["dth_gain"][str(k)] = round(gain, 4)
        row = {"bits": k, "DSH": f"{100 * d.mean():.2f}", "DTH": f"{100 * t.mean():.2f}",
               "gain (points)": f"{gain:+.2f}", "SE": f"{se:.2f}"}
        if has_ce:
            c = maps_of(df, "ce", k)
            teacher_adds, se_ce = mean_difference(t, c)
            summary.setdefault("dth_gain_over_ce", {})[str(k)] = round(teacher_adds, 4)
            row.update({"CE": f"{100 * c.mean():.2f}", "DTH - CE (points)": f"{teacher_adds:+.2f}",
                        "SE of DTH - CE": f"{se_ce:.2f}"})
        rows.append(row)
    text = [f"### 1. Distillation beats the DSH baseline (paper: about +6 points) — "
            f"{verdict(distillation_verdict(flags))}", "",
            f"{label} (%), mean of {len(seeds)} seed(s)"
            + (f" (CE: {seeds_text(method_seeds(params, 'ce'))})" if has_ce else "")
            + "; 'SE' is the standard error of the difference of the two "
            "means, sqrt(var_1 / n_1 + var_2 / n_2) over seeds (a single run adds none). Holds when the gain exceeds "
            "its SE at every k, "
            "does not hold when DSH is ahead by more than it at every k."
            + (" CE is the same student trained with DTH's cross-entropy alone, without the teacher: DTH - CE "
               "is what the teacher's knowledge adds, DTH - DSH also counts the objective." if has_ce else ""), "",
            md_table(rows), "", f"Mean gain over code lengths: {np.mean(gains):+.2f} points.", ""]
    return "\n".join(text), summary


def teacher_claim(df: pd.DataFrame, params: dict, results: Path, speed: dict, teacher: dict) -> tuple[str, dict]:
    """Claim 2: the teacher is ahead in mAP at every k and behind in encoding speed."""
    label, bits = map_label(params), list(params["bits"])
    te = [df[(df["family"] == "teacher") & (df["bits"] == k)]["map"].mean() for k in bits]
    st = [df[(df["family"] == "dth") & (df["bits"] == k)]["map"].mean() for k in bits]
    rows = [{"bits": k, f"teacher {label} (%)": f"{100 * a:.2f}", f"DTH student {label} (%)": f"{100 * b:.2f}",
             "teacher ahead by (points)": f"{100 * (a - b):+.2f}"} for k, a, b in zip(bits, te, st)]
    t_speed = speed["teacher"].get("images_per_second")
    s_speed = float(np.median([v["images_per_second"] for n, v in speed.items() if n.startswith("dth-")]))
    curve = need(results / "plots" / "train" / "teacher.csv", "train")
    epochs = int(pd.read_csv(curve)["epoch"].iloc[-1])
    text = [f"### 2. The teacher stays ahead in mAP and far behind in speed — "
            f"{verdict(teacher_verdict(te, st, t_speed, s_speed))}", "", md_table(rows), "",
            f"Teacher ({params['teacher']['arch']}, {epochs} epochs): test accuracy {100 * teacher['accuracy']:.1f}% "
            f"on the whole query set (mean over its hash heads' classifiers; worst head "
            f"{100 * teacher['accuracy_min_head']:.1f}%).", "",
            f"Encoding speed (database pass, the machine of this run): teacher {t_speed:,.0f} images/s "
            f"({1e3 / t_speed:.3f} ms/image), DTH student {s_speed:,.0f} images/s "
            f"({1e3 / s_speed:.3f} ms/image): the student is {s_speed / t_speed:.1f}x faster. "
            "(The teacher encodes all its heads in one pass; timings vary run to run.)", ""]
    return "\n".join(text), {}


def convergence_claim(runs: pd.DataFrame, params: dict) -> tuple[str, dict]:
    """Claim 3: the distilled students reach the share of their final validation mAP later."""
    share, student, seeds = params["convergence"]["share"], params["student"], params["seeds"]
    constant = student["schedule"] == "constant"
    flag, diff = convergence_claim_verdict(runs, student["schedule"])
    stable = stable_epochs(student)
    plateaued = bool((runs["rise"].abs() <= 0.01).all())
    summary = {"convergence_epochs": {m: round(float(runs[runs["method"] == m]["epochs"].mean()), 3)
                                      for m in ("dsh", "dth")}}
    rows = []
    for k in params["bits"]:
        row = {"bits": k}
        for m in ("dsh", "dth"):
            r = runs[(runs["method"] == m) & (runs["bits"] == k)]
            row.update({f"{m.upper()} epochs (per seed)": f"{r['epochs'].mean():.1f} "
                        f"({', '.join(str(e) for e in r['epochs'])})",
                        f"{m.upper()} final mAP (%)": f"{100 * r['final'].mean():.2f}",
                        f"{m.upper()} rise (points)": f"{100 * r['rise'].mean():+.2f}"})
        rows.append(row)
    text = [f"### 3. Distillation converges more slowly (paper: 400 against 100 epochs) — {verdict(flag)}", "",
            f"The students themselves are the runs: every seed {seeds}, both methods, every code length, "
            f"trained for {student['epochs']} epochs at the learning rate {student['lr']:g} "
            f"({student['schedule']} after {student['warmup_epochs']} warm-up epoch(s)"
            + (f", then a linear decay to 0 over the last {student['epochs'] - stable} epochs; the curves are read "
               f"over the {stable} epochs before it" if constant and stable < student["epochs"] else "")
            + f"), validated after every "
            f"epoch on the first {student['val_queries']} query images against the first "
            f"{student['val_database']} database images. 'epochs' = first epoch reaching {share:.0%} of the final "
            "validation mAP (the mean of the last tenth of the curve read); 'rise' = the final mAP minus the same "
            "mean three quarters into it (about 0 on a plateau).", "", md_table(rows), "",
            f"DTH needs {abs(diff):.1f} epochs {'more' if diff >= 0 else 'fewer'} than DSH on average over the "
            "paired (k, seed) runs. Holds when "
            "that is at least one epoch and DTH is slower in most pairs. "
            + ("Every run had plateaued (|rise| <= 1 point)." if plateaued else
               "Not every run had plateaued (some |rise| > 1 point): lengthen student.epochs.")
            + ("" if constant else f" Inconclusive: student.schedule is {student['schedule']!r}, and a decaying "
               "learning rate flattens every curve by itself; the claim is judged with schedule: constant.")
            + " See figures/convergence.png.", ""]
    return "\n".join(text), summary


def ternary_claim(tern: pd.DataFrame, params: dict) -> tuple[str, dict]:
    """Claim 4: the ternary student of the main layer set loses little at the smallest t."""
    label, q = map_label(params), params["quantize"]
    main = tern[tern["layers"] == q["layers"]]
    t_min = main["t"].min()
    smallest = main[main["t"] == t_min]
    changes = [float(c) for c in smallest["change (points)"]]
    summary = {"ternary_change": {str(int(b)): round(c, 4) for b, c in zip(smallest["bits"], changes)}}
    text = [f"### 4. Ternary {q['layers']} layers lose little (paper: little loss) — "
            f"{verdict(ternary_verdict(changes))}", "",
            f"At the smallest t = {t_min:g} the worst change of {label} over code lengths is {min(changes):+.2f} "
            f"points (criterion: within 1 point of the full-precision DTH student of seed {params['seed']}). "
            "Every t:", "",
            md_table(main[["bits", "t", "sparsity (%)", "model bytes", "compression", "fc compression", "mAP (%)",
                           "change (points)"]]), ""]
    return "\n".join(text), summary


def layers_claim(tern: pd.DataFrame, params: dict) -> tuple[str, dict]:
    """Claim 5: ternarising the second layer set (quantize.compare_layers) costs far more."""
    label, q = map_label(params), params["quantize"]
    cmp = tern[(tern["layers"] == q["compare_layers"]) & np.isclose(tern["t"], q["compare_t"])]
    ref = tern[(tern["layers"] == q["layers"]) & np.isclose(tern["t"], q["compare_t"])]
    title = f"### 5. Ternarising {q['compare_layers']} costs far more than {q['layers']} (the review's claim)"
    if len(ref) == 0:
        return "\n".join([f"{title} — {verdict(None)}", "", f"quantize.compare_t = {q['compare_t']:g} is not one of "
                          f"quantize.t {q['t']}: there is no {q['layers']} model at that threshold to compare with.",
                          ""]), {}
    m = cmp.merge(ref, on="bits", suffixes=(f" {q['compare_layers']}", f" {q['layers']}"))
    first, second = m[f"change (points) {q['layers']}"], m[f"change (points) {q['compare_layers']}"]
    extra = [float(e) for e in second - first]
    summary = {"compare_extra_change": {str(int(b)): round(e, 4) for b, e in zip(m["bits"], extra)}}
    rows = [{"bits": b, f"change {q['layers']}": f"{a:+.2f}", f"change {q['compare_layers']}": f"{c:+.2f}",
             "extra": f"{e:+.2f}"} for b, a, c, e in zip(m["bits"], first, second, extra)]
    text = [f"{title} — {verdict(layers_verdict(extra))}", "",
            f"At t = {q['compare_t']:g}; 'extra' = change with {q['compare_layers']} minus change with "
            f"{q['layers']} (points of {label}); holds when the extra loss exceeds 1 point at every k, "
            "does not hold when it is under 0.25 points at every k.", "", md_table(rows), ""]
    return "\n".join(text), summary


def backbone_results(df: pd.DataFrame, params: dict, recorded: pd.DataFrame | None) -> tuple[pd.DataFrame, str] | None:
    """The methods on the teacher's network, one run each: a frame of method, bits, map, with the
    teacher as `ce` (it is that method on that network), and where the numbers come from: this
    run's models when params `backbone_methods` names some, else the last recorded attempt whose
    summary has them (results/experiments.csv columns backbone_map.<method>.<k>); None when neither."""
    if params["backbone_methods"]:
        rows = df[df["family"].isin(["teacher", BACKBONE])]
        frame = pd.DataFrame({"method": rows["method"].where(rows["family"] == BACKBONE, "ce"),
                              "bits": rows["bits"], "map": rows["map"]})
        return frame.reset_index(drop=True), f"this run, seed {params['seed']}"
    if recorded is None or recorded.empty:
        return None
    columns = [c for c in recorded.columns if c.startswith("backbone_map.")]
    with_backbone = recorded[recorded[columns].notna().any(axis=1)] if columns else recorded.iloc[:0]
    if with_backbone.empty:
        return None
    row = with_backbone.iloc[-1]
    rows = []
    for column in columns:
        _, method, k = column.split(".")
        if pd.notna(row[column]):
            rows.append({"method": method, "bits": int(k), "map": float(row[column])})
    for k in sorted({r["bits"] for r in rows}):
        if pd.notna(row.get(f"teacher_map.{k}")):
            rows.append({"method": "ce", "bits": k, "map": float(row[f"teacher_map.{k}"])})
    return pd.DataFrame(rows), f"recorded attempt `{row['name']}` (results/experiments.csv; params changes: {row['set']})"


def backbone_comparison(df: pd.DataFrame, params: dict, found: tuple[pd.DataFrame, str] | None
                        ) -> tuple[list[str], list[bool | None], dict]:
    """Claim 6 on the teacher's network: DTH's mean over seeds (the small student of this run)
    against each method's single run there, per code length by `beats` (the single run adds no
    variance: the SE is DTH's alone). Returns the text, the flags and the summary entries."""
    arch, bits = params["teacher"]["arch"], list(params["bits"])
    if found is None:
        return ([f"Not run on the teacher's network ({arch}): params `backbone_methods` lists the methods to train "
                 "there (one teacher training each); `workflow/attempts.yaml`'s attempt `big-backbone` runs it at "
                 "one seed.", ""], [], {})
    frame, source = found
    methods = ["ce", *[m for m in dict.fromkeys(frame["method"]) if m != "ce"]]
    value = {(r["method"], int(r["bits"])): float(r["map"]) for _, r in frame.iterrows()}
    ks = [k for k in bits if all((m, k) in value for m in methods)]
    best = {k: max(methods, key=lambda m: value[(m, k)]) for k in ks}
    rows = [{"method": f"{METHOD_NAMES[m]}{' (the teacher)' if m == 'ce' else ''} on {arch}",
             **{f"{k} bits": (f"**{100 * value[(m, k)]:.2f}**" if best[k] == m else f"{100 * value[(m, k)]:.2f}")
                for k in ks}} for m in methods]
    rows.append({"method": "DTH (the distilled student, this run)",
                 **{f"{k} bits": fmt_mean_std(pd.Series(maps_of(df, 'dth', k))) for k in ks}})
    flags, verdict_rows, summary = [], [], {}
    for k in ks:
        for m in methods:
            flag, diff, se = beats(maps_of(df, "dth", k), np.array([value[(m, k)]]))
            flags.append(flag)
            verdict_rows.append({"bits": k, "method": METHOD_NAMES[m], "DTH - it (points)": f"{diff:+.2f}",
                                 "SE": f"{se:.2f}", "verdict": {True: "holds", False: "does not hold", None: "tie"}[flag]})
        summary[str(k)] = {"best": best[k], "dth_minus_best": round(100 * float(maps_of(df, "dth", k).mean()
                                                                                 - value[(best[k], k)]), 4)}
    text = [f"On the teacher's network ({arch}, its schedule, one hash head per code length on one backbone; "
            f"from {source}): {map_label(params)} (%) of one run per method; bold: the best per column.", "",
            md_table(rows), "",
            "DTH's mean against each of them: holds where DTH is ahead by more than the standard error of its "
            "mean over seeds (one run gives no spread of its own), does not hold where the method is ahead by "
            f"more than it, a tie otherwise. On the teacher's network: {verdict(overall(flags))}.", "",
            md_table(verdict_rows), ""]
    return text, flags, {"sota_backbone": summary}


def setting_in_params(setting: str, params: dict) -> bool:
    """Whether a sweep row's other settings (`dpsh.init_scale=30 ...`, sweep_lr.py --set; "" for
    none) are the values params has. A row without settings matches any params; the caller
    prefers a row whose settings match."""
    for item in str(setting).split():
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        current, value = params.get(section, {}).get(name), yaml.safe_load(value)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (current, value))
        if not (np.isclose(value, current) if numbers else value == current):
            return False
    return True


def comparison_claim(df: pd.DataFrame, params: dict, sweep: pd.DataFrame | None,
                     recorded: pd.DataFrame | None = None) -> tuple[str, dict]:
    """Claim 6: the distilled student against every method trained without the teacher on the same
    network and schedule (params `baselines`), per code length by `beats`; the table marks the best of
    them per column in bold; the learning rates chosen by the sweep (workflow/scripts/sweep_lr.py);
    then the same methods on the teacher's network (`backbone_comparison`), from this run or a
    recorded attempt. The claim holds when it holds at every k on both networks."""
    label, radius, bits = map_label(params), params["evaluate"]["radius"], list(params["bits"])
    others = ["dsh", *compared_families(df)]
    title = "### 6. A thin distilled student outperforms the state-of-the-art methods (the paper's third claim)"
    if len(others) < 2:
        return "\n".join([f"{title} — {verdict(None)}", "", "Only DSH is trained without the teacher: add methods "
                          "to params `baselines` (ce, dpsh, hashnet, dch, greedyhash, csq) to judge it.", ""]), {}
    flags, verdict_rows, low = [], [], []
    summary = {"sota": {}}
    for k in bits:
        best = max(others, key=lambda m: maps_of(df, m, k).mean())
        flag, diff, se = beats(maps_of(df, "dth", k), maps_of(df, best, k))
        flags.append(flag)
        summary["sota"][str(k)] = {"best": best, "dth_minus_best": round(diff, 4), "se": round(se, 4)}
        verdict_rows.append({"bits": k, "best other method": METHOD_NAMES[best],
                             "its mAP (%)": f"{100 * maps_of(df, best, k).mean():.2f}",
                             "DTH mAP (%)": f"{100 * maps_of(df, 'dth', k).mean():.2f}",
                             "DTH - best (points)": f"{diff:+.2f}", "SE": f"{se:.2f}",
                             "verdict": {True: "holds", False: "does not hold", None: "tie"}[flag]})
        dsh_mean = maps_of(df, "dsh", k).mean()
        low += [f"{METHOD_NAMES[m]} at {k} bits ({100 * (maps_of(df, m, k).mean() - dsh_mean):+.2f})"
                for m in compared_families(df) if maps_of(df, m, k).mean() < dsh_mean - 0.03]

    def table(column: str) -> str:
        rows = []
        best = {k: max(others, key=lambda o: maps_of(df, o, k, column).mean()) for k in bits}
        for m in ["dth", *others]:
            row = {"method": f"{METHOD_NAMES[m]}{' (distilled)' if m == 'dth' else ''}"}
            for k in bits:
                text = fmt_mean_std(pd.Series(maps_of(df, m, k, column)))
                row[f"{k} bits"] = f"**{text}**" if m == best[k] else text
            rows.append(row)
        return md_table(rows)

    lr = {m: (params[m]["lr"] if m in params and "lr" in params[m] else params["student"]["lr"]) for m in others}
    decay = params["student"]["weight_decay"]
    own_decay = [f"{METHOD_NAMES[m]} {params[m]['weight_decay']:g}" for m in others
                 if m in params and not np.isclose(params[m].get("weight_decay", decay), decay)]
    longer = [f"{METHOD_NAMES[m]} {method_epochs(params, m)}" for m in others
              if method_epochs(params, m) != params["student"]["epochs"]]  # epochs_factor > 1
    big_text, big_flags, big_summary = backbone_comparison(df, params, backbone_results(df, params, recorded))
    summary.update(big_summary)
    out = [f"{title} — {verdict(overall(flags + big_flags))}", "",
           f"Every method trained on the student network with the same schedule ({params['student']['epochs']} "
           f"epochs, {params['student']['optimizer']}, augment {params['student']['augment']}; DSH and DTH at "
           f"seeds {params['seeds']}, the others at {seeds_text(params['baseline_seeds'])}) but its own peak learning rate ("
           + ", ".join(f"{METHOD_NAMES[m]} {lr[m]:g}" for m in others) + ")"
           + (f", weight decay ({', '.join(own_decay)}; the others {decay:g})" if own_decay else "")
           + (f" and length ({', '.join(longer)} epochs)" if longer else "") + ", without the teacher; DTH is the "
           f"distilled student. {label} (%), mean ± std over seeds (one value: one seed); bold: the best method "
           "trained without the "
           "teacher in that column.", "", table("map"), "",
           f"Precision within Hamming radius {radius} (%):", "", table("precision_radius"), "",
           "Verdict per code length: holds where DTH's mean exceeds the best other method's by more than the "
           "standard error of their difference (SE over seeds, sqrt(var_1 / n_1 + var_2 / n_2); a method run at one "
           "seed adds no variance of its own, so the SE is then DTH's alone), does not hold where that method is ahead by "
           f"more than it, a tie otherwise. On the student network: {verdict(overall(flags))}; the claim holds "
           "when it holds at every k on the student network and, where they were trained, on the teacher's.", "",
           md_table(verdict_rows), "", *big_text]
    out += [("Compared methods more than 3 points below DSH at the same k: " + "; ".join(low) + ". "
             "docs/baselines.md gives what was measured about each (the sweep of rates, weight decays and lengths "
             "below, workflow/scripts/code_structure.py on the codes, DPSH's initial scale).") if low else
            "No compared method is more than 3 points below DSH at any k.", ""]
    if sweep is not None and len(sweep):
        sw = sweep.copy()
        sw["validation mAP (%)"] = (100 * pd.to_numeric(sw["validation_map"])).round(2)
        sw["setting"] = sw["setting"].fillna("") if "setting" in sw else ""  # other keys set (sweep_lr.py --set)
        sw["validation"] = fill_validation(sw)
        # runs at other seeds than 0 (sweep_lr.py --seed) measure the spread: rows of their own
        sw["seed"] = pd.to_numeric(sw["seed"]).fillna(0).astype(int) if "seed" in sw else 0
        pivot = sw.pivot_table(index=["method", "validation", "setting", "lr", "seed"], columns="bits",
                               values="validation mAP (%)")
        pivot.columns = [f"{int(c)} bits" for c in pivot.columns]
        pivot["mean"] = pivot.mean(axis=1).round(2)
        pivot = pivot.reset_index()
        pivot["used"] = [("yes" if m in lr and np.isclose(r, lr[m]) and setting_in_params(st, params) and s == 0
                          else "") for m, st, r, s in zip(pivot["method"], pivot["setting"], pivot["lr"], pivot["seed"])]
        # of a method's rows that params match, the one setting the most keys: the others (a subset of its
        # keys, e.g. none) were run before it
        keys = [frozenset(item.partition("=")[0] for item in str(st).split()) for st in pivot["setting"]]
        marked = list(zip(pivot["method"], pivot["used"], keys))
        pivot["used"] = [u if not any(u2 and m2 == m and k2 > k for m2, u2, k2 in marked) else ""
                         for m, u, k in marked]
        pivot["lr"] = [f"{r:g}" for r in pivot["lr"]]
        if not pivot["setting"].astype(bool).any():
            pivot = pivot.drop(columns="setting")
        if pivot["validation"].nunique() == 1:
            pivot = pivot.drop(columns="validation")
        if (pivot["seed"] == 0).all():
            pivot = pivot.drop(columns="seed")
        out += ["Learning rates, weight decays and lengths: for each method, runs at seed 0 on a validation split of "
                "the training images, never the query set: held-out training images as queries against the other "
                "training images, which the student trains on (column validation: `vs the training images`), or against other "
                "held-out images, none trained on (`vs ... held-out images`: the lengths, `epochs_factor`, since "
                "longer training also memorises the training images). Recorded in results/experiments.csv (rows "
                "`lr-sweep:*`, each with the command that reproduces it); the rate used is the one with the highest "
                "validation mAP averaged over the code lengths swept (docs/baselines.md); rows of another seed "
                "(column seed) measure the spread and choose nothing.", "", md_table(pivot), ""]
    return "\n".join(out), summary


def claims(df: pd.DataFrame, results: Path, tern: pd.DataFrame, speed: dict, teacher: dict,
           runs: pd.DataFrame, params: dict, sweep: pd.DataFrame | None,
           recorded: pd.DataFrame | None = None) -> tuple[str, dict]:
    """REPORT.md's claims section and the summary entries of all six claims."""
    parts = [distillation_claim(df, params), teacher_claim(df, params, results, speed, teacher),
             convergence_claim(runs, params), ternary_claim(tern, params), layers_claim(tern, params),
             comparison_claim(df, params, sweep, recorded)]
    summary: dict = {}
    for _, entries in parts:
        summary.update(entries)
    return "\n".join(["## The paper's claims, checked", "", *(text for text, _ in parts)]), summary


def attempts_section(path: Path, summary: dict) -> str:
    """The recorded attempts (results/experiments.csv) beside this run's own numbers: teacher accuracy
    and mean mAP per method and k (%), and claim 3's epochs; for `doubled-epochs`, the verdict."""
    runs = pd.read_csv(path, dtype={"name": str, "set": str, "about": str})
    runs = runs[~runs["name"].str.startswith(SWEEP_PREFIX)].dropna(axis=1, how="all")  # claim 6 shows the sweep
    flat = flat_keys(summary)  # the CSV's column names: attempts.py flattens each summary.json alike
    this = {"name": "this run", "set": "(params.yaml)",
            **{key: flat.get(key, np.nan) for key in runs.columns if key not in ("name", "set", "about")}}
    maps = [c for c in runs.columns if c.split(".")[0] in ("teacher_map", "dsh_map", "dth_map")]
    fractions = [c for c in ("teacher_accuracy", *maps) if c in runs.columns]  # shown in %
    epochs = [c for c in runs.columns if c.startswith("convergence_epochs.")]
    verdicts = []
    for _, row in runs[runs["name"] == "doubled-epochs"].iterrows():
        change = {c: 100 * (float(row[c]) - float(this[c])) for c in maps
                  if pd.notna(row.get(c)) and pd.notna(this.get(c))}
        if change:
            worst = max(change, key=lambda c: abs(change[c]))
            ok = abs(change[worst]) <= 1.0
            verdicts += [
                f"**Converged: {'yes' if ok else 'no'}.** Doubling every epoch count moves the mean mAP by up to "
                f"{abs(change[worst]):.2f} points (largest: {worst.replace('_map.', ' at k=')}, "
                f"{change[worst]:+.2f}); the criterion is at most 1 point.", ""]
    table = pd.concat([pd.DataFrame([this]), runs], ignore_index=True)[["name", "set", *fractions, *epochs]]
    table[fractions] = table[fractions].apply(pd.to_numeric, errors="coerce").mul(100).round(2)
    table[epochs] = table[epochs].apply(pd.to_numeric, errors="coerce").round(1)
    table = table.rename(columns={c: c.replace("_map.", " mAP k=").replace("teacher_accuracy", "teacher acc (%)")
                                  .replace("convergence_epochs.", "epochs to share, ") for c in table.columns})
    about = [f"- `{r['name']}`: {r['about']}" for _, r in runs.iterrows() if isinstance(r.get("about"), str)]
    comparisons = [line for _, r in runs.iterrows() for line in attempt_comparison(r)]
    return "\n".join([
        "## Attempts", "",
        f"Each row below the first is a DVC experiment recorded in {path} by `python workflow/scripts/attempts.py` "
        "(workflow/attempts.yaml lists each one's name, purpose and params changes; "
        "`dvc exp run -n <name> -S <set ...>` reproduces it). The first row is this run, from its own "
        "summary.json, so it always agrees with the tables below. mAP in %, means over seeds.", "",
        *verdicts, md_table(table), "", *about, "", *comparisons])


def attempt_comparison(row: pd.Series) -> list[str]:
    """Claim 6 of an attempt that trained the compared methods (its summary's `sota` entries):
    every method's mean mAP (%) per code length and DTH's lead over the best of the others."""
    bits = sorted({c.split(".")[1] for c, v in row.items() if c.startswith("sota.") and pd.notna(v)}, key=int)
    if not bits:
        return []
    families = [m for m in METHOD_NAMES if pd.notna(row.get(f"{m}_map.{bits[0]}"))]
    rows = [{"method": METHOD_NAMES[m], **{f"{k} bits": f"{100 * float(row[f'{m}_map.{k}']):.2f}" for k in bits}}
            for m in ["dth", *[f for f in families if f != "dth"]]]
    lead = "; ".join(f"{k} bits {float(row[f'sota.{k}.dth_minus_best']):+.2f} over "
                     f"{METHOD_NAMES.get(row[f'sota.{k}.best'], row[f'sota.{k}.best'])} "
                     f"(SE {float(row[f'sota.{k}.se']):.2f})" for k in bits)
    return [f"Claim 6 in attempt `{row['name']}`: mean mAP (%) of each method; DTH minus the best method "
            f"trained without the teacher, in points: {lead}.", "", md_table(rows), ""]


# ----------------------------------------------------------------------------- summary

def summary_of(df: pd.DataFrame, teacher: dict, families: list[str]) -> dict:
    """The numbers worth diffing, per method and k (means over seeds); keys carry no param values
    but the code lengths, and the experiments' column names stay the same when other params change."""
    out: dict = {"teacher_accuracy": round(teacher["accuracy"], 6)}
    for fam in ("teacher", *families):
        sub = df[df["family"] == fam].groupby("bits")
        out[f"{fam}_map"] = {str(int(k)): round(float(v), 6) for k, v in sub["map"].mean().items()}
        out[f"{fam}_precision_radius"] = {str(int(k)): round(float(v), 6)
                                          for k, v in sub["precision_radius"].mean().items()}
    heads = df[df["family"] == BACKBONE]
    if len(heads):  # the methods on the teacher's network: backbone_map.<method>.<k>
        out["backbone_map"] = {m: {str(int(k)): round(float(v), 6) for k, v in g.groupby("bits")["map"].mean().items()}
                               for m, g in heads.groupby("method", sort=False)}
    return out


# ----------------------------------------------------------------------------- main

def main(args) -> int:
    params = load_params(args.params)
    results, out = Path(args.results), Path(args.out)
    df = metrics_table(results, params)
    seed = params["seed"]
    ttq = df[df["family"] == "ttq"]["model"]
    ternary = {name: read_json(results / "ternary" / f"{name}.json", "ternary") for name in ttq}
    backbones = [backbone_name(m, params["teacher"]["arch"]) for m in params["backbone_methods"]]
    speed = {name: read_json(results / "speed" / f"{name}.json", "speed")
             for name in ["teacher", *df[df["family"].isin([*student_methods(params), "ttq"])]["model"], *backbones]}
    teacher = read_json(results / "metrics" / "teacher.json", "metrics")
    runs = convergence_runs(results, params)

    full = df[(df["family"] == "dth") & (df["seed"] == seed)].set_index("bits")["map"].to_dict()
    tern = ternary_table(df, ternary, full)
    sweep, attempts = None, None
    if args.attempts:
        recorded = pd.read_csv(args.attempts, dtype={"name": str, "set": str})
        is_sweep = recorded["name"].str.startswith(SWEEP_PREFIX)
        sweep, attempts = recorded[is_sweep], recorded[~is_sweep]
    claim_text, claim_summary = claims(df, results, tern, speed, teacher, runs, params, sweep, attempts)
    summary = {**summary_of(df, teacher, student_methods(params)), **claim_summary}

    label, radius = map_label(params), params["evaluate"]["radius"]
    sections = []
    with atomic_dir(out / "tables") as tables:
        sections.append(write_table(by_method_and_bits(df, "map"), tables, "map",
                                    f"{label} (%) by method and code length, mean ± std over seeds {params['seeds']} "
                                    f"(the compared methods: {params['baseline_seeds']})"))
        sections.append(write_table(by_method_and_bits(df, "precision_radius"), tables, "precision_radius",
                                    f"Precision within Hamming radius {radius} (%), empty ball = 0"))
        sections.append(write_table(tern, tables, "ternary_sweep", "Ternary sweep: t, sparsity (of the "
                                    f"ternarised layers), packed model bytes, {label} (%)", index=False))
        size_rows = [{"model": name, "file bytes": s.get("model_bytes"),
                      "encoding images/s": round(s.get("images_per_second", float("nan")))}
                     for name, s in speed.items()]
        sections.append(write_table(pd.DataFrame(size_rows).set_index("model"), tables, "size_speed",
                                    "Model size on disk and encoding speed (images/s, the machine of this run)"))
    with atomic_dir(out / "figures") as figures:
        figs = curve_figures(df, results, figures, seed)
        figs.append(map_vs_t_figure(tern, figures, params["quantize"]["layers"], label))
        figs.append(convergence_figure(results, figures, params, runs))
        figs.append(gallery_figure(Path(args.gallery_codes), Path(args.data), figures))
    report = ["# DTH reproduction report", "",
              f"Dataset {params['data']['dataset']}, protocol {params['data']['protocol']}; "
              f"code lengths {params['bits']}; student seeds {params['seeds']} (the compared methods "
              f"{params['baseline_seeds']}); {label}. Generated by `dth report` "
              "from the pipeline's artifacts; no number here is typed by hand.", "",
              claim_text,
              attempts_section(Path(args.attempts), summary) if args.attempts else "",
              "## Tables", "", *sections, "## Figures", "",
              *[f"![{f}](figures/{f})" for f in figs if f], ""]
    write_json(out / "summary.json", summary)
    write_text(out / "REPORT.md", "\n".join(report))
    print(f"wrote {out / 'REPORT.md'}, {out / 'summary.json'}, {len(figs)} figures, {len(sections)} tables")
    return 0
