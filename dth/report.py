"""Render the paper's tables and figures, and REPORT.md, from the evaluated artifacts.

    dth report --results results --data data/prepared --gallery-codes codes/dth-12-s0.npz --out results

Reads only what the other stages wrote (results/metrics, results/plots/{pr,pn,train},
results/ternary, results/speed, one codes file for the gallery) and writes:
    results/tables/*.md, *.csv   main mAP table, radius-2 precision, ternary sweep,
                                 model size and encoding speed
    results/figures/*.png        PR and P@N curves per k, mAP against t, training
                                 curves, a retrieval gallery
    results/REPORT.md            the five claims of the paper, each with a verdict
                                 (holds / does not hold / inconclusive) and its numbers
No number in REPORT.md is typed by hand: each comes from those files.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from dth.data import load_manifest, load_split
from dth.errors import DthError
from dth.io import atomic_dir, write_text
from dth.params import load_params

# Model names (docs/artifacts.md): teacher-k, dsh-k-sS, dth-k-sS, ttq-L-k-tT.
NAME = re.compile(
    r"^(?:(?P<teacher>teacher)-(?P<tk>\d+)"
    r"|(?P<method>dsh|dth)-(?P<k>\d+)-s(?P<seed>\d+)"
    r"|ttq-(?P<layers>fc|fc\+conv|all)-(?P<qk>\d+)-t(?P<t>[0-9.e-]+))$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder the other stages wrote into (default: %(default)s)")
    p.add_argument("--data", default="data/prepared", help="prepared data, for the gallery's images (default: %(default)s)")
    p.add_argument("--gallery-codes", required=True, help="codes file whose queries the gallery shows")
    p.add_argument("--out", default="results", help="where tables/, figures/ and REPORT.md go (default: %(default)s)")
    p.add_argument("--experiments", default=None,
                   help="CSV of earlier runs (workflow/scripts/export_experiments.py) to compare in REPORT.md")


# ----------------------------------------------------------------------------- loading

def parse_name(name: str) -> dict:
    m = NAME.match(name)
    if not m:
        raise DthError(f"unexpected model name {name!r} under results/ (see docs/artifacts.md)")
    if m["teacher"]:
        return {"model": name, "family": "teacher", "bits": int(m["tk"]), "seed": None, "layers": None, "t": None}
    if m["method"]:
        return {"model": name, "family": m["method"], "bits": int(m["k"]), "seed": int(m["seed"]),
                "layers": None, "t": None}
    return {"model": name, "family": "ttq", "bits": int(m["qk"]), "seed": None, "layers": m["layers"],
            "t": float(m["t"])}


def read_json_folder(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise DthError(f"{path} is not valid JSON ({e}); rerun the stage that wrote it") from None
    return out


def metrics_table(results: Path) -> pd.DataFrame:
    """One row per evaluated model: its name's parts plus every metric."""
    metrics = read_json_folder(results / "metrics")
    if not metrics:
        raise DthError(f"no metrics in {results / 'metrics'}: run the evaluate stages first")
    rows = [{**parse_name(name), **m} for name, m in metrics.items()]
    return pd.DataFrame(rows)


def fmt_mean_std(values: pd.Series, scale: float = 100.0) -> str:
    v = values.dropna().to_numpy() * scale
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.2f}"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"


def write_table(df: pd.DataFrame, tables: Path, name: str, title: str, index: bool = True) -> str:
    """Write <name>.csv and <name>.md; return the markdown (with its title)."""
    df.to_csv(tables / f"{name}.csv", index=index)
    md = f"### {title}\n\n" + df.to_markdown(index=index) + "\n"
    (tables / f"{name}.md").write_text(md)
    return md


# ----------------------------------------------------------------------------- tables

def method_label(row) -> str:
    if row["family"] == "teacher":
        return "Teacher"
    if row["family"] in ("dsh", "dth"):
        return row["family"].upper()
    return f"DTH-ternary {row['layers']} t={row['t']:g}"


def by_method_and_bits(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """method x bits table of mean ± std (in %) of `column` over seeds."""
    df = df.assign(method=df.apply(method_label, axis=1))
    order = ["Teacher", "DSH", "DTH"] + sorted(m for m in df["method"].unique() if m.startswith("DTH-ternary"))
    table = df.groupby(["method", "bits"])[column].apply(fmt_mean_std).unstack("bits")
    table = table.reindex([m for m in order if m in table.index])
    table.columns = [f"{k} bits" for k in table.columns]
    table.index.name = "method"
    return table


def ternary_table(df: pd.DataFrame, ternary: dict[str, dict], full: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in df[df["family"] == "ttq"].iterrows():
        rep = ternary.get(r["model"], {})
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


# ----------------------------------------------------------------------------- figures

def figure_setup():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def curve_figures(df: pd.DataFrame, results: Path, figures: Path, seed: int) -> list[str]:
    """PR and P@N per k, one line per method (students: seed `seed`; ternary: smallest t)."""
    plt = figure_setup()
    written = []
    for k in sorted(df["bits"].unique()):
        sub = df[df["bits"] == k]
        chosen = []
        for fam in ("teacher", "dsh", "dth"):
            s = sub[(sub["family"] == fam) & ((sub["seed"] == seed) | sub["seed"].isna())]
            chosen += list(s["model"])
        ttq = sub[sub["family"] == "ttq"].sort_values("t")
        for layers in ttq["layers"].unique():
            chosen.append(ttq[ttq["layers"] == layers]["model"].iloc[0])
        for kind, xcol, ycol, xlabel, title in (
                ("pr", "recall", "precision", "recall", f"Precision-recall over Hamming radius, {k} bits"),
                ("pn", "n", "precision", "N (top retrieved items)", f"Precision@N, {k} bits")):
            fig, ax = plt.subplots(figsize=(6, 4.2))
            for name in chosen:
                path = results / "plots" / kind / f"{name}.csv"
                if not path.exists():
                    continue
                c = pd.read_csv(path)
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


def map_vs_t_figure(tern: pd.DataFrame, figures: Path) -> str | None:
    if tern.empty:
        return None
    plt = figure_setup()
    t_df = tern
    main_layers = t_df.groupby("layers")["t"].nunique().idxmax()
    t_df = t_df[t_df["layers"] == main_layers]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax2 = ax.twinx()
    for k in sorted(t_df["bits"].unique()):
        s = t_df[t_df["bits"] == k].sort_values("t")
        line, = ax.plot(s["t"], s["mAP (%)"], marker="o", label=f"mAP, {k} bits")
        ax.axhline(s["mAP full precision (%)"].iloc[0], color=line.get_color(), ls=":", lw=1)
        ax2.plot(s["t"], s["model bytes"] / 1024, marker="s", ls="--", color=line.get_color(), alpha=0.5)
    ax.set_xlabel("ternary threshold t (delta = t * max|w|)")
    ax.set_ylabel("mAP@all (%)  (dotted: full precision)")
    ax2.set_ylabel("packed model size (KiB, dashed)")
    ax.set_title(f"Ternary student ({main_layers} layers): mAP and size against t")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(figures / "map_vs_t.png", dpi=110)
    plt.close(fig)
    return "map_vs_t.png"


def training_figure(results: Path, figures: Path, bits: list[int], seed: int) -> str:
    plt = figure_setup()
    fig, axes = plt.subplots(1, len(bits), figsize=(3.6 * len(bits), 3.6), sharey=True, squeeze=False)
    for ax, k in zip(axes[0], bits):
        for method in ("dsh", "dth"):
            path = results / "plots" / "train" / f"{method}-{k}-s{seed}.csv"
            if path.exists():
                c = pd.read_csv(path)
                ax.plot(c["epoch"], 100 * c["val_map"], label=method.upper())
        ax.set_title(f"{k} bits")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("validation mAP (%)")
    fig.suptitle(f"Convergence of the students (seed {seed})")
    fig.tight_layout()
    fig.savefig(figures / "training_curves.png", dpi=110)
    plt.close(fig)
    return "training_curves.png"


def gallery_figure(codes_path: Path, data: Path, figures: Path, queries=(0, 1, 2, 3, 4)) -> str:
    """The first query images and their top 10, found the way `dth search` finds them."""
    from dth.hamming import load_codes
    from dth.search import Query, build_index, draw_gallery, search

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

def converge_epoch(curve: pd.DataFrame, share: float = 0.95) -> int | None:
    """First epoch whose validation mAP reaches `share` of the final epoch's."""
    if curve.empty or "val_map" not in curve:
        return None
    final = curve["val_map"].iloc[-1]
    hit = curve[curve["val_map"] >= share * final]
    return int(hit["epoch"].iloc[0]) if len(hit) else None


def verdict(flag: bool | None) -> str:
    return {True: "**holds**", False: "**does not hold**", None: "**inconclusive**"}[flag]


def claims(df: pd.DataFrame, results: Path, tern: pd.DataFrame, speed: dict, params: dict) -> str:
    seeds, seed = params["seeds"], params["seed"]
    bits = sorted(df["bits"].unique())
    out = ["## The paper's claims, checked", ""]

    # 1. DTH vs DSH
    lines, gains, signif = [], [], []
    for k in bits:
        d = df[(df["family"] == "dsh") & (df["bits"] == k)]["map"].to_numpy()
        t = df[(df["family"] == "dth") & (df["bits"] == k)]["map"].to_numpy()
        if len(d) == 0 or len(t) == 0:
            continue
        gain = 100 * (t.mean() - d.mean())
        spread = 100 * np.sqrt((d.var(ddof=1) if len(d) > 1 else 0) + (t.var(ddof=1) if len(t) > 1 else 0))
        gains.append(gain)
        signif.append(gain > spread)
        lines.append(f"| {k} | {100 * d.mean():.2f} | {100 * t.mean():.2f} | {gain:+.2f} | {spread:.2f} |")
    if gains:
        flag = True if all(g > 0 for g in gains) and all(signif) else (False if all(g <= 0 for g in gains) else None)
        out += [f"### 1. Distillation beats the DSH baseline (paper: about +6 points) — {verdict(flag)}", "",
                f"mAP@all (%), mean of {len(seeds)} seed(s); 'spread' is the std of the difference of the means' "
                "inputs (sqrt of the two seed variances); a gain counts when it exceeds it.", "",
                "| bits | DSH | DTH | gain (points) | spread |", "|---|---|---|---|---|", *lines, "",
                f"Mean gain over code lengths: {np.mean(gains):+.2f} points.", ""]

    # 2. teacher vs student
    lines, ahead, slower = [], [], None
    for k in bits:
        te = df[(df["family"] == "teacher") & (df["bits"] == k)]["map"]
        st = df[(df["family"] == "dth") & (df["bits"] == k)]["map"]
        if len(te) and len(st):
            ahead.append(te.mean() > st.mean())
            lines.append(f"| {k} | {100 * te.mean():.2f} | {100 * st.mean():.2f} |")
    t_speed = speed.get("teacher", {}).get("images_per_second")
    s_speeds = [v.get("images_per_second") for n, v in speed.items() if n.startswith("dth-")]
    s_speed = float(np.median([s for s in s_speeds if s])) if any(s_speeds) else None
    if t_speed and s_speed:
        slower = s_speed > t_speed
    if lines:
        flag = (all(ahead) and bool(slower)) if slower is not None else None
        out += [f"### 2. The teacher stays ahead in mAP and far behind in speed — {verdict(flag)}", "",
                "| bits | teacher mAP (%) | DTH student mAP (%) |", "|---|---|---|", *lines, ""]
        curve = results / "plots" / "train" / "teacher.csv"
        if curve.exists():
            last = pd.read_csv(curve).iloc[-1]
            out += [f"Teacher ({params['teacher']['arch']}, {int(last['epoch'])} epochs): classification accuracy "
                    f"{100 * last['val_acc']:.1f}% on the first {params['teacher']['val_queries']} query images "
                    "(mean over its hash heads).", ""]
        if t_speed and s_speed:
            out += [f"Encoding speed (database pass, this machine): teacher {t_speed:,.0f} images/s "
                    f"({1e3 / t_speed:.3f} ms/image), DTH student {s_speed:,.0f} images/s "
                    f"({1e3 / s_speed:.3f} ms/image): the student is {s_speed / t_speed:.1f}x faster. "
                    "(The teacher encodes all its heads in one pass; timings vary run to run.)", ""]

    # 3. convergence
    lines, dsh_e, dth_e = [], [], []
    for k in bits:
        for method, store in (("dsh", dsh_e), ("dth", dth_e)):
            for s in seeds:
                path = results / "plots" / "train" / f"{method}-{k}-s{s}.csv"
                if path.exists():
                    e = converge_epoch(pd.read_csv(path))
                    if e is not None:
                        store.append(e)
        if dsh_e and dth_e:
            pass
    if dsh_e and dth_e:
        epochs = params["student"]["epochs"]
        diff = np.mean(dth_e) - np.mean(dsh_e)
        # a difference under half an epoch, or a schedule whose curves still rise at its end, decides nothing
        late = min(np.median(dsh_e), np.median(dth_e)) >= epochs - 1
        flag = None if abs(diff) < 0.5 or late else bool(diff > 0)
        out += [f"### 3. Distillation converges more slowly (paper: 400 against 100 epochs) — {verdict(flag)}", "",
                f"Epoch at which the validation mAP first reaches 95% of its final value, over all code lengths "
                f"and seeds ({epochs} epochs in all): DSH mean {np.mean(dsh_e):.1f} (median {np.median(dsh_e):.0f}), "
                f"DTH mean {np.mean(dth_e):.1f} (median {np.median(dth_e):.0f}); difference {diff:+.1f} epochs. "
                "Inconclusive when the difference is under half an epoch or both medians fall in the last two "
                "epochs (the curves still rise: the schedule is too short to tell). See figures/training_curves.png.",
                ""]

    # 4. ternary little loss / 5. fc vs fc+conv
    if not tern.empty:
        t_df = tern
        q = params["quantize"]
        main = t_df[t_df["layers"] == q["layers"]]
        smallest = main[main["t"] == main["t"].min()]
        worst = smallest["change (points)"].min()
        flag = bool(worst >= -1.0)
        out += [f"### 4. Ternary {q['layers']} layers lose little (paper: little loss) — {verdict(flag)}", "",
                f"At the smallest t = {main['t'].min():g} the worst change of mAP over code lengths is "
                f"{worst:+.2f} points (criterion: within 1 point). Every t:", "",
                main[["bits", "t", "sparsity (%)", "model bytes", "compression", "fc compression", "mAP (%)",
                      "change (points)"]].to_markdown(index=False), ""]
        cmp = t_df[(t_df["layers"] == q["compare_layers"]) & (np.isclose(t_df["t"], q["compare_t"]))]
        ref = t_df[(t_df["layers"] == q["layers"]) & (np.isclose(t_df["t"], q["compare_t"]))]
        if len(cmp) and len(ref):
            m = cmp.merge(ref, on="bits", suffixes=(f" {q['compare_layers']}", f" {q['layers']}"))
            extra = m[f"change (points) {q['compare_layers']}"] - m[f"change (points) {q['layers']}"]
            flag = True if (extra < -1.0).all() else (False if (extra >= -0.25).all() else None)
            out += [f"### 5. Ternarising convolutions too costs far more than fc only (the review's claim) — "
                    f"{verdict(flag)}", "",
                    f"At t = {q['compare_t']:g}; 'extra' = change with {q['compare_layers']} minus change with "
                    f"{q['layers']} (points of mAP); holds when the extra loss exceeds 1 point at every k, "
                    "does not hold when it is under 0.25 points at every k.", "",
                    "| bits | change " + q['layers'] + " | change " + q['compare_layers'] + " | extra |",
                    "|---|---|---|---|",
                    *[f"| {b} | {a:+.2f} | {c:+.2f} | {e:+.2f} |" for b, a, c, e in
                      zip(m["bits"], m[f"change (points) {q['layers']}"],
                          m[f"change (points) {q['compare_layers']}"], extra)], ""]
    return "\n".join(out)


def experiments_section(path: Path, params: dict) -> str:
    """What was tried: one row per DVC experiment or commit of results/experiments.csv."""
    runs = pd.read_csv(path, dtype={"name": str})
    names = [c for c in runs.columns if NAME.match(c)]
    varying = [c for c in runs.columns if c != "name" and c not in names]
    q, seed = params["quantize"], params["seed"]
    rows = []
    for _, r in runs.iterrows():
        parts = {c: parse_name(c) for c in names}
        dsh = [r[c] for c, p in parts.items() if p["family"] == "dsh"]
        dth = [r[c] for c, p in parts.items() if p["family"] == "dth"]
        ttq = {c: p for c, p in parts.items() if p["family"] == "ttq" and p["layers"] == q["layers"]}
        t_min = min((p["t"] for p in ttq.values()), default=None)
        changes = [r[c] - r[f"dth-{p['bits']}-s{seed}"] for c, p in ttq.items()
                   if p["t"] == t_min and f"dth-{p['bits']}-s{seed}" in runs.columns]
        rows.append({"run": r["name"], **{c: r[c] for c in varying},
                     "DSH mAP (%)": 100 * np.mean(dsh), "DTH mAP (%)": 100 * np.mean(dth),
                     f"ternary t={t_min:g}: worst change (points)": 100 * min(changes) if changes else np.nan,
                     f"ternary t={t_min:g}: mean change (points)": 100 * np.mean(changes) if changes else np.nan})
    table = pd.DataFrame(rows)
    metric_cols = [c for c in table.columns if "(%)" in c or "(points)" in c]
    table[metric_cols] = table[metric_cols].round(2)
    return "\n".join([
        "## Attempts recorded as DVC experiments", "",
        f"Each row is a DVC experiment or commit of this pipeline ({path}, exported from `dvc exp show -A` by "
        "workflow/scripts/export_experiments.py), with the params that differ between them; mAP means are over "
        "every code length and seed. The default params.yaml keeps the best.", "",
        table.to_markdown(index=False), ""])


# ----------------------------------------------------------------------------- main

def main(args) -> int:
    params = load_params(args.params)
    results, out = Path(args.results), Path(args.out)
    df = metrics_table(results)
    seed = params["seed"]
    ternary = read_json_folder(results / "ternary") if (results / "ternary").exists() else {}
    speed = read_json_folder(results / "speed") if (results / "speed").exists() else {}

    full = df[(df["family"] == "dth") & (df["seed"] == seed)].set_index("bits")["map"].to_dict()
    tern = ternary_table(df, ternary, full)

    sections = []
    with atomic_dir(out / "tables") as tables:
        sections.append(write_table(by_method_and_bits(df, "map"), tables, "map",
                                    f"mAP@all (%) by method and code length, mean ± std over seeds {params['seeds']}"))
        sections.append(write_table(by_method_and_bits(df, "precision_radius2"), tables, "precision_radius2",
                                    "Precision within Hamming radius 2 (%), empty ball = 0"))
        if not tern.empty:
            sections.append(write_table(tern, tables, "ternary_sweep", "Ternary sweep: t, sparsity (of the "
                                        "ternarised layers), packed model bytes, mAP@all (%)", index=False))
        size_rows = []
        for name, s in sorted(speed.items()):
            size_rows.append({"model": name, "file bytes": s.get("model_bytes"),
                              "encoding images/s": round(s.get("images_per_second", float("nan")))})
        if size_rows:
            sections.append(write_table(pd.DataFrame(size_rows).set_index("model"), tables, "size_speed",
                                        "Model size on disk and encoding speed (images/s, this machine)"))
    with atomic_dir(out / "figures") as figures:
        figs = curve_figures(df, results, figures, seed)
        figs.append(map_vs_t_figure(tern, figures))
        figs.append(training_figure(results, figures, params["bits"], seed))
        figs.append(gallery_figure(Path(args.gallery_codes), Path(args.data), figures))
    report = ["# DTH reproduction report", "",
              f"Dataset {params['data']['dataset']}, protocol {params['data']['protocol']}; "
              f"code lengths {params['bits']}; student seeds {params['seeds']}. Generated by `dth report` "
              "from the pipeline's artifacts; no number here is typed by hand.", "",
              claims(df, results, tern, speed, params),
              experiments_section(Path(args.experiments), params) if args.experiments else "",
              "## Tables", "", *sections, "## Figures", "",
              *[f"![{f}](figures/{f})" for f in figs if f], ""]
    write_text(out / "REPORT.md", "\n".join(report))
    print(f"wrote {out / 'REPORT.md'}, {len(figs)} figures, {len(sections)} tables")
    return 0
