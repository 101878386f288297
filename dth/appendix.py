"""APPENDIX.md and results/tables/: what supports REPORT.md's verdicts, each table once.

    from dth.appendix import write_appendix
    write_appendix(run, claims, Path("results"), figures)   # called by `dth report`

The ternary sweep at every t, the precision within the Hamming radius, model size and batched
encoding throughput (one row per kind of model), the validation sweeps that chose each compared
method's learning rate, weight decay and length (never on the query set), and the recorded
attempts: each with the commit it ran on; an attempt on other training code than today's
(dth/results.py, attempt_is_current) is shown with its commit and enters no verdict. Where a
current attempt recorded the claims' fields, its claim 6a verdicts stand beside this run's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dth.io import atomic_dir, write_text
from dth.markdown import md_table, method_table
from dth.params import METHOD_NAMES, flat_keys
from dth.results import Run, fill_validation, map_label, method_label


def setting_in_params(setting: str, params: dict) -> bool:
    """Whether a sweep row's other settings (`dpsh.init_scale=30 ...`, sweep_lr.py --set; "" for
    none) are the values params has. A row without settings matches any params."""
    for item in str(setting).split():
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        current, value = params.get(section, {}).get(name), yaml.safe_load(value)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (current, value))
        if not (np.isclose(value, current) if numbers else value == current):
            return False
    return True


def sweep_table(sweep: pd.DataFrame, params: dict) -> pd.DataFrame:
    """The validation runs, one row per method, protocol, setting, rate and seed, a column per k;
    `used` marks the row whose settings params has (of those, the one setting the most keys)."""
    lr = {m: params[m]["lr"] for m in METHOD_NAMES if m in params and "lr" in params[m]}
    lr.setdefault("dsh", params["student"]["lr"])
    sw = sweep.copy()
    sw["validation mAP (%)"] = (100 * pd.to_numeric(sw["validation_map"])).round(2)
    sw["setting"] = sw["setting"].fillna("") if "setting" in sw else ""
    sw["validation"] = fill_validation(sw)
    sw["seed"] = pd.to_numeric(sw["seed"]).fillna(0).astype(int) if "seed" in sw else 0
    pivot = sw.pivot_table(index=["method", "validation", "setting", "lr", "seed"], columns="bits",
                           values="validation mAP (%)")
    pivot.columns = [f"{int(c)} bits" for c in pivot.columns]
    pivot["mean"] = pivot.mean(axis=1).round(2)
    pivot = pivot.reset_index()
    pivot["used"] = [("yes" if m in lr and np.isclose(r, lr[m]) and setting_in_params(st, params) and s == 0 else "")
                     for m, st, r, s in zip(pivot["method"], pivot["setting"], pivot["lr"], pivot["seed"])]
    keys = [frozenset(item.partition("=")[0] for item in str(st).split()) for st in pivot["setting"]]
    marked = list(zip(pivot["method"], pivot["used"], keys))
    pivot["used"] = [u if not any(u2 and m2 == m and k2 > k for m2, u2, k2 in marked) else "" for m, u, k in marked]
    pivot["lr"] = [f"{r:g}" for r in pivot["lr"]]
    for column, idle in (("setting", not pivot["setting"].astype(bool).any()),
                         ("validation", pivot["validation"].nunique() == 1), ("seed", (pivot["seed"] == 0).all())):
        if idle:
            pivot = pivot.drop(columns=column)
    return pivot


def size_speed_table(run: Run) -> pd.DataFrame:
    """Model file size and batched encoding throughput, one row per kind of model (the median over
    its models: they differ by a few percent, run to run)."""
    rows = []
    for name, s in run.speed.items():
        match = run.df[run.df["model"] == name]
        kind = method_label(match.iloc[0]) if len(match) else ("Teacher" if name == "teacher" else name)
        rows.append({"model": kind, "file bytes": s.get("model_bytes"), "images/s": s.get("images_per_second"),
                     "batch": s.get("batch_size")})
    df = pd.DataFrame(rows)
    table = df.groupby("model", sort=False).agg(models=("images/s", "size"), file_bytes=("file bytes", "median"),
                                                images_per_second=("images/s", "median"), batch=("batch", "first"))
    table["images_per_second"] = table["images_per_second"].round(0)
    return table.reset_index()


def commit_of(row) -> str:
    c = row.get("commit")
    return c[:8] if isinstance(c, str) and c else "(not recorded)"


def attempts_section(run: Run, claims: dict) -> list[str]:
    """The attempts beside this run: teacher accuracy, mean mAP of DSH, DTH and the teacher (%),
    the commit and whether it is on today's training code; then the claim 6a verdicts of the
    current attempts that recorded them, and the doubled-epochs convergence check if current."""
    att = run.attempts
    if att is None or att.empty:
        return []
    flat = flat_keys(json_summary(run))
    maps = [c for c in att.columns if c.split(".")[0] in ("teacher_map", "dsh_map", "dth_map")
            and c.split(".")[-1] in {str(k) for k in run.params["bits"]}]
    rows = [{"name": "this run", "commit": "(this)", "today's code": "yes",
             **{c: flat.get(c) for c in maps}}]
    for _, r in att.iterrows():
        rows.append({"name": r["name"], "commit": commit_of(r), "today's code": "yes" if r["current"] else "no",
                     **{c: r.get(c) for c in maps}})
    table = pd.DataFrame(rows)
    table[maps] = table[maps].apply(pd.to_numeric, errors="coerce").mul(100).round(2)
    table = table.rename(columns={c: c.replace("_map.", " k=") for c in maps})
    out = ["## Attempts", "",
           "Each is a DVC experiment (workflow/attempts.yaml: its name, why, its params; "
           "`python workflow/scripts/attempts.py NAME` reruns and records it in results/experiments.csv). "
           "An attempt on other training code or params than today's (column `today's code`: no) is shown "
           "and enters no verdict. mAP in %, means over seeds.", "", md_table(table), ""]
    out += [f"- `{r['name']}` ({commit_of(r)}): {r['about']}" for _, r in att.iterrows() if isinstance(r.get("about"), str)]
    out.append("")
    out += attempt_claims(run, claims)
    out += doubled_epochs(run, flat)
    return out


def json_summary(run: Run) -> dict:
    import json
    path = run.results / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def attempt_claims(run: Run, claims: dict) -> list[str]:
    """Claim 6a in each current attempt that recorded the claims (columns claims.6a.*), beside this run's."""
    att = run.attempts
    cols = [c for c in att.columns if c.startswith("claims.6a.by_k.") and c.endswith(".best_diff")]
    if not cols:
        return []
    bits = sorted({c.split(".")[3] for c in cols}, key=int)
    rows = []
    this = claims["claims"]["6a"]
    if this.get("by_k"):
        rows.append({"run": "this run", "verdict": this["verdict"], **{
            f"{k} bits": f"{e['best_diff']:+.2f} ± {e['best_half_width']:.2f} vs {METHOD_NAMES[e['best']]} ({e['verdict']})"
            for k, e in this["by_k"].items()}})
    for _, r in att[att["current"]].iterrows():
        if pd.isna(r.get("claims.6a.verdict")):
            continue
        row = {"run": r["name"], "verdict": r["claims.6a.verdict"]}
        for k in bits:
            p = f"claims.6a.by_k.{k}."
            if pd.notna(r.get(p + "best_diff")):
                row[f"{k} bits"] = (f"{float(r[p + 'best_diff']):+.2f} ± {float(r[p + 'best_half_width']):.2f} vs "
                                    f"{METHOD_NAMES.get(r[p + 'best'], r[p + 'best'])} ({r[p + 'verdict']})")
        rows.append(row)
    if len(rows) < 2:
        return []
    return ["### Claim 6a in the attempts", "",
            "DTH minus the best method trained without the teacher on the student network, with the 95% half-width "
            "of each run's own pooled spread (dth/verdicts.py):", "", md_table(rows), ""]


def doubled_epochs(run: Run, flat: dict) -> list[str]:
    """Converged when doubling every epoch count moves no mean mAP by more than 1 point (if current)."""
    att = run.attempts
    rows = att[(att["name"] == "doubled-epochs") & att["current"]]
    if rows.empty:
        return []
    row = rows.iloc[-1]
    maps = [c for c in att.columns if c.split(".")[0] in ("teacher_map", "dsh_map", "dth_map")]
    change = {c: 100 * (float(row[c]) - float(flat[c])) for c in maps if pd.notna(row.get(c)) and c in flat}
    if not change:
        return []
    worst = max(change, key=lambda c: abs(change[c]))
    return [f"**Converged: {'yes' if abs(change[worst]) <= 1 else 'no'}.** Doubling every epoch count moves the mean "
            f"mAP by up to {abs(change[worst]):.2f} points ({worst.replace('_map.', ' at k=')}); the criterion is at "
            "most 1 point.", ""]


def write_appendix(run: Run, claims: dict, out: Path, figures: list[str]) -> None:
    """APPENDIX.md and the tables folder (CSV and markdown of each table)."""
    label = map_label(run.params)
    tern = run.tern
    radius = run.params["evaluate"]["radius"]
    sections = [("ternary_sweep", f"Ternary sweep: every t, sparsity of the ternarised layers, packed bytes, {label} (%)",
                 tern),
                ("size_speed", "Model file size and batched encoding throughput (images/s, the machine of this run; "
                 "claim 2 uses the latency of one query instead)", size_speed_table(run))]
    text = ["# Appendix to REPORT.md", "", "The tables and figures that support the verdicts; each appears once.", ""]
    with atomic_dir(out / "tables") as tables:
        for name, title, df in sections:
            df.to_csv(tables / f"{name}.csv", index=False)
            (tables / f"{name}.md").write_text(f"### {title}\n\n{md_table(df)}\n")
            text += [f"## {title}", "", md_table(df), ""]
        radius_md = method_table(run, "precision_radius")
        (tables / "precision_radius.md").write_text(radius_md + "\n")
        text += [f"## Precision within Hamming radius {radius} (%), mean ± std over seeds; empty ball = 0", "",
                 radius_md, ""]
        if run.sweep is not None and len(run.sweep):
            sweep = sweep_table(run.sweep, run.params)
            sweep.to_csv(tables / "validation_sweeps.csv", index=False)
            text += ["## Validation sweeps: each compared method's learning rate, weight decay and length", "",
                     "Runs at seed 0 on a validation split of the training images, never the query set (rows "
                     "`lr-sweep:*` of results/experiments.csv, each with the command that reproduces it); `used`: the "
                     "row whose settings params has. Rows of another seed measure the spread and choose nothing; "
                     "docs/baselines.md gives the selection rules.", "", md_table(sweep), ""]
    text += attempts_section(run, claims)
    text += ["## Figures", "", *[f"![{f}](figures/{f})" for f in figures if f != "headline.png"],
             "![gallery](gallery/gallery.png)", ""]
    write_text(out / "APPENDIX.md", "\n".join(text))
