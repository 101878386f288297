"""The report's figures, drawn from the run's result files and the claims' records.

    from dth.figures import headline_figure
    headline_figure(run, claims, Path("results/figures"))   # -> headline.png

headline.png: mAP against code length for every method (mean with its 95% interval from the
pooled spread; one-seed methods get the pooled interval too), DTH and the teacher marked.
pr_<k>bits.png / pn_<k>bits.png: precision-recall and precision@N; map_vs_t.png: the ternary
sweep; convergence.png: the students' training curves (claim 3); service_search.png: query time
against database size, log-log (claim 7).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dth.names import student_name
from dth.params import METHOD_NAMES, student_methods
from dth.results import Run, compared_families, map_label, maps_of, need, stable_epochs
from dth.verdicts import interval

def figure_setup():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt



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



def headline_figure(run: Run, claims: dict, figures: Path) -> str:
    """mAP (%) against code length: every student method and the teacher, mean over seeds with its
    95% interval (t quantile x the pooled spread / sqrt(n): the same spread for a one-seed method)."""
    plt = figure_setup()
    params, bits = run.params, sorted(run.params["bits"])
    conf = claims["confidence"]
    fig, ax = plt.subplots(figsize=(7, 4.6))
    for fam in ["teacher", *student_methods(params)]:
        means, widths = [], []
        for k in bits:
            v = 100 * maps_of(run.df, fam, k)
            sp = claims["spread"][str(k)]
            means.append(v.mean())
            widths.append(interval(v, sp["s"], sp["df"], conf))
        bold = fam in ("dth", "teacher")
        label = {"teacher": f"Teacher ({params['teacher']['arch']})", "dth": "DTH (distilled student)"}.get(
            fam, METHOD_NAMES.get(fam, fam))
        ax.errorbar(bits, means, yerr=widths, marker="o" if bold else ".", lw=2.4 if bold else 1.1,
                    ls="--" if fam == "teacher" else "-", capsize=3, label=label, zorder=3 if bold else 2)
    ax.set_xticks(bits)
    ax.set_xlabel("code length k (bits)")
    ax.set_ylabel(f"{map_label(params)} (%)")
    ax.set_title(f"{params['data']['dataset']}: {map_label(params)} against code length; bars: {conf:.0%} interval",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(figures / "headline.png", dpi=120)
    plt.close(fig)
    return "headline.png"


def service_figure(df: pd.DataFrame, figures: Path) -> str:
    """Median time of one query against database size, log-log: packed codes, the hash layer's
    real-valued outputs and the penultimate features, for the teacher and the DTH student."""
    plt = figure_setup()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    styles = {"binary": "-", "real": "--", "features": ":"}
    for ax, model in zip(axes, ("dth", "teacher")):
        sub = df[df["model"] == model]
        for (bits, kind), g in sub.groupby(["bits", "kind"], dropna=False):
            g = g.sort_values("database_size")
            ax.plot(g["database_size"], g["median_us"], styles.get(kind, "-"), marker="o", markersize=3,
                    label=kind if pd.isna(bits) else f"{kind}, {int(bits)} bits")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("database size (items)")
        ax.set_title({"dth": "DTH student", "teacher": "teacher"}[model])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("median time of one query (µs, one thread)")
    fig.tight_layout()
    fig.savefig(figures / "service_search.png", dpi=110)
    plt.close(fig)
    return "service_search.png"
