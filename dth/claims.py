"""The verdicts on the paper's claims, as data: results/claims.json and results/summary.json.

    dth claims --params params.yaml --results results --attempts results/experiments.csv \
        --service results/service --out results/claims.json --summary results/summary.json

Each claim is a function of the run's result files (dth/results.py reads them) that returns a
record: the rows it compares, the differences, their 95% half-widths, the rule and the verdict.
Claims 1, 2, 6a and 6b compare mean mAPs with the one rule of dth/verdicts.py (a t interval on
the pooled seed-to-seed spread at each code length, never zero for a method run at one seed);
claims 3, 4 and 5 keep the rules their records state; claim 7 (binary codes against real-valued
features) and claim T (what ternary weights buy at encoding) judge the service stages'
measurements. claims.json holds scalars only (DVC's metrics drop lists and nulls), so that
`dvc exp show` lists every claim's verdict beside the params; summary.json keeps the mean mAP of
every method and k. Nothing here renders: dth/report.py writes REPORT.md from these records.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dth.io import write_json
from dth.names import BACKBONE
from dth.params import load_params, student_methods
from dth.results import Run, compared_families, convergence_verdict, load_run, maps_of
from dth.verdicts import FAILS, HOLDS, TIE, all_of, compare, overall, pooled_spread

NOT_RUN = "not run"
# Claim 4 and 5's tolerances (points of mAP) and claim T's least gain; stated in each record.
TERNARY_TOLERANCE, LAYERS_COSTS, LAYERS_FREE, TERNARY_MIN_GAIN = 1.0, 1.0, 0.25, 0.10


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder the other stages wrote into (default: %(default)s)")
    p.add_argument("--attempts", default=None, help="results/experiments.csv: recorded attempts (claim 6b can "
                   "come from one run on today's training code)")
    p.add_argument("--service", default=None, help="folder of the service stages' files (claims 7 and T)")
    p.add_argument("--out", default="results/claims.json", help="the claims' records (default: %(default)s)")
    p.add_argument("--summary", default="results/summary.json", help="mean mAP per method and k (default: %(default)s)")


def pts(x) -> np.ndarray:
    """mAP fractions as points (x 100)."""
    return 100 * np.asarray(x, dtype=float)


def r4(x: float) -> float:
    return round(float(x), 4)


def spread(run: Run, k: int) -> tuple[float, int]:
    """The pooled seed-to-seed spread (points) at k over every student method with 2+ seeds."""
    return pooled_spread([pts(maps_of(run.df, m, k)) for m in student_methods(run.params)])


def comparison_entry(c, **means) -> dict:
    return {**{f"{name}": r4(v) for name, v in means.items()}, "diff": r4(c.diff),
            "half_width": r4(c.half_width) if np.isfinite(c.half_width) else -1.0, "n_a": c.n_a, "n_b": c.n_b,
            "df": c.dof, "verdict": c.verdict}


def with_overall(record: dict, per_k: dict) -> dict:
    verdict, detail = overall(per_k)
    record.update(verdict=verdict, detail=detail)
    return record


def rule_claim(run: Run, a: str, b: str) -> dict:
    """Student method a against b at every k by the rule (claims 1 and 1b)."""
    conf, by_k, per_k = run.params["claims"]["confidence"], {}, {}
    for k in run.params["bits"]:
        s, dof = spread(run, k)
        va, vb = pts(maps_of(run.df, a, k)), pts(maps_of(run.df, b, k))
        c = compare(va, vb, s, dof, conf)
        by_k[str(k)] = comparison_entry(c, **{a: va.mean(), b: vb.mean()})
        per_k[k] = c.verdict
    return with_overall({"a": a, "b": b, "by_k": by_k}, per_k)


def teacher_claim(run: Run) -> dict:
    """Claim 2: the teacher's mAP is above the DTH student's at every k (the rule; the teacher is
    one run) and the student encodes one query faster (service_latency; the batched throughput
    where that stage did not run)."""
    conf, by_k, per_k = run.params["claims"]["confidence"], {}, {}
    for k in run.params["bits"]:
        s, dof = spread(run, k)
        t, d = pts(maps_of(run.df, "teacher", k)), pts(maps_of(run.df, "dth", k))
        c = compare(t, d, s, dof, conf)
        by_k[str(k)] = comparison_entry(c, teacher=t.mean(), dth=d.mean())
        per_k[k] = c.verdict
    latency = run.service.get("latency", {}).get("encode_us", {})
    if latency:
        teacher_us = float(np.median([v["median"] for v in latency["teacher"].values()]))
        student_us = float(np.median([v["median"] for v in latency["dth"].values()]))
        speed = {"measure": "one query, batch 1", "teacher_us": r4(teacher_us), "student_us": r4(student_us),
                 "student_speedup": r4(teacher_us / student_us)}
    else:
        t_ips = run.speed["teacher"]["images_per_second"]
        s_ips = float(np.median([v["images_per_second"] for n, v in run.speed.items() if n.startswith("dth-")]))
        speed = {"measure": "batched throughput", "teacher_us": r4(1e6 / t_ips), "student_us": r4(1e6 / s_ips),
                 "student_speedup": r4(s_ips / t_ips)}
    record = with_overall({"by_k": by_k, "speed": speed}, per_k)
    if speed["student_speedup"] <= 1.0:
        record["verdict"], record["detail"] = FAILS, "the student is not faster"
    record["accuracy"] = r4(100 * run.teacher["accuracy"])
    return record


def convergence_claim(run: Run) -> dict:
    """Claim 3: DTH takes at least one epoch longer on average to reach convergence.share of its
    final validation mAP, and longer in most (k, seed) pairs; a tie unless the schedule is constant."""
    holds, diff = convergence_verdict(run.runs)
    constant = run.params["student"]["schedule"] == "constant"
    epochs = {m: r4(run.runs[run.runs["method"] == m]["epochs"].mean()) for m in ("dsh", "dth")}
    verdict = (HOLDS if holds else FAILS) if constant else TIE
    plateaued = bool((run.runs["rise"].abs() <= 0.01).all())
    return {"dsh_epochs": epochs["dsh"], "dth_epochs": epochs["dth"], "diff": r4(diff), "verdict": verdict,
            "detail": "" if constant else "student.schedule is not constant", "plateaued": int(plateaued)}


def ternary_claim(run: Run) -> dict:
    """Claim 4: at the smallest t, the ternary student of quantize.layers is within 1 point of the
    full-precision DTH student of `seed` at every k (a gain always counts)."""
    q = run.params["quantize"]
    main = run.tern[run.tern["layers"] == q["layers"]]
    smallest = main[main["t"] == main["t"].min()]
    by_k = {str(int(b)): {"change": r4(c), "verdict": HOLDS if c >= -TERNARY_TOLERANCE else FAILS}
            for b, c in zip(smallest["bits"], smallest["change (points)"])}
    record = with_overall({"t": float(main["t"].min()), "tolerance": TERNARY_TOLERANCE, "by_k": by_k},
                          {k: v["verdict"] for k, v in by_k.items()})
    record["worst_change"] = r4(min(v["change"] for v in by_k.values()))
    return record


def layers_claim(run: Run) -> dict:
    """Claim 5: ternarising quantize.compare_layers loses more than 1 point beyond quantize.layers
    at compare_t at every k (holds), less than 0.25 at every k (does not hold), else a tie."""
    q, tern = run.params["quantize"], run.tern
    cmp = tern[(tern["layers"] == q["compare_layers"]) & np.isclose(tern["t"], q["compare_t"])]
    ref = tern[(tern["layers"] == q["layers"]) & np.isclose(tern["t"], q["compare_t"])]
    if len(ref) == 0:
        return {"verdict": NOT_RUN, "detail": f"quantize.compare_t {q['compare_t']} is not in quantize.t"}
    m = cmp.merge(ref, on="bits", suffixes=("_cmp", "_ref"))
    extra = {str(int(b)): float(c - r) for b, c, r in zip(m["bits"], m["change (points)_cmp"],
                                                         m["change (points)_ref"])}
    by_k = {k: {"change_ref": r4(r), "change_cmp": r4(c), "extra": r4(e)}
            for (k, e), r, c in zip(extra.items(), m["change (points)_ref"], m["change (points)_cmp"])}
    values = list(extra.values())
    verdict = HOLDS if all(e < -LAYERS_COSTS for e in values) else (
        FAILS if all(e >= -LAYERS_FREE for e in values) else TIE)
    return {"by_k": by_k, "verdict": verdict, "detail": "", "costs": LAYERS_COSTS, "free": LAYERS_FREE}


def against_each(run: Run, k: int, rivals: dict[str, np.ndarray]) -> tuple[dict, str]:
    """DTH at k against each rival's values (points) by the rule with the student network's
    spread: ({rival: entry}, the verdict at k: holds if DTH beats each)."""
    conf = run.params["claims"]["confidence"]
    s, dof = spread(run, k)
    d = pts(maps_of(run.df, "dth", k))
    entries = {m: comparison_entry(compare(d, v, s, dof, conf), dth=d.mean(), it=np.mean(v)) for m, v in rivals.items()}
    return entries, all_of([e["verdict"] for e in entries.values()])


def compared_claim(run: Run) -> dict:
    """Claim 6a: DTH against each method trained without the teacher on the student network (dsh
    and `baselines`): holds at k when it beats each; `best` is the method of the highest mean."""
    others = ["dsh", *compared_families(run.df)]
    if len(others) < 2:
        return {"verdict": NOT_RUN, "detail": "only DSH is trained without the teacher (params baselines)"}
    by_k, per_k = {}, {}
    for k in run.params["bits"]:
        rivals = {m: pts(maps_of(run.df, m, k)) for m in others}
        entries, per_k[k] = against_each(run, k, rivals)
        best = max(others, key=lambda m: rivals[m].mean())
        by_k[str(k)] = {"best": best, **{f"best_{x}": v for x, v in entries[best].items() if x != "verdict"},
                        "verdict": per_k[k], "methods": entries}
    return with_overall({"by_k": by_k, "methods": len(others)}, per_k)


def backbone_source(run: Run) -> tuple[dict, str] | None:
    """({(method, k): mAP points}, source) of the methods on the teacher's network, the teacher as
    ce: this run's models (params backbone_methods), else the last recorded attempt on today's
    training code whose summary has them (experiments.csv backbone_map.<method>.<k>)."""
    df, params = run.df, run.params
    if params["backbone_methods"]:
        rows = df[df["family"].isin(["teacher", BACKBONE])]
        values = {("ce" if r["family"] == "teacher" else r["method"], int(r["bits"])): 100 * float(r["map"])
                  for _, r in rows.iterrows()}
        return values, "this run"
    if run.attempts is None or run.attempts.empty:
        return None
    columns = [c for c in run.attempts.columns if c.startswith("backbone_map.")]
    usable = run.attempts[run.attempts["current"] & run.attempts[columns].notna().any(axis=1)] if columns else []
    if len(usable) == 0:
        return None
    row = usable.iloc[-1]
    values = {}
    for column in columns:
        _, method, k = column.split(".")
        if pd.notna(row[column]) and pd.notna(row.get(f"teacher_map.{k}")):
            values[(method, int(k))] = 100 * float(row[column])
            values[("ce", int(k))] = 100 * float(row[f"teacher_map.{k}"])
    return values, f"attempt {row['name']}"


def backbone_claim(run: Run) -> dict:
    """Claim 6b: DTH (the small student, its seeds) against each method on the teacher's network
    (one run each), by the rule with the student network's pooled spread at k (borrowed: the big
    network has no seeds of its own here)."""
    found = backbone_source(run)
    if found is None:
        return {"verdict": NOT_RUN, "detail": "no method trained on the teacher's network (params "
                "backbone_methods, or the attempt big-backbone on today's training code)"}
    values, source = found
    by_k, per_k = {}, {}
    for k in run.params["bits"]:
        rivals = {m: np.array([v]) for (m, kk), v in values.items() if kk == k}
        if not rivals:
            continue
        entries, per_k[k] = against_each(run, k, rivals)
        best = max(rivals, key=lambda m: rivals[m][0])
        by_k[str(k)] = {"best": best, **{f"best_{x}": v for x, v in entries[best].items() if x != "verdict"},
                        "verdict": per_k[k], "methods": entries}
    return with_overall({"by_k": by_k, "source": source, "spread": "borrowed from the student network"}, per_k)


def service_claim(run: Run) -> dict:
    """Claim 7: at the largest database size, searching the DTH student's packed codes is at least
    claims.min_speedup times faster per query than searching its penultimate features, and its
    mAP@all on the run's database at most claims.max_map_price points below theirs, at every k."""
    quality, search = run.service.get("quality"), run.service.get("search")
    if not quality or not search:
        return {"verdict": NOT_RUN, "detail": "the service stages did not run"}
    c = run.params["claims"]
    by_k, per_k = {}, {}
    for k, maps in quality["map"]["dth"].items():
        speedup = float(search["speedup_binary_over_features"]["dth"][k])
        price = 100 * (maps["features"] - maps["binary"])
        ok = speedup >= c["min_speedup"] and price <= c["max_map_price"]
        per_k[k] = HOLDS if ok else FAILS
        by_k[k] = {"speedup": r4(speedup), "map_binary": r4(100 * maps["binary"]),
                   "map_real": r4(100 * maps["real"]), "map_features": r4(100 * maps["features"]),
                   "price": r4(price), "verdict": per_k[k]}
    largest = max(int(n) for n in run.params["service"]["database_sizes"])
    return with_overall({"by_k": by_k, "database_size": largest, "min_speedup": float(c["min_speedup"]),
                         "max_map_price": float(c["max_map_price"])}, per_k)


def ternary_speed_claim(run: Run) -> dict:
    """Claim T, "ternary weights accelerate retrieval": holds at k when the ternary student's median
    one-image encode is at least 10% faster than the full-precision student's AND a 2-bit kernel
    could buy that much at all: 1 / (1 - share) >= 1 / 0.9, with `share` the multiply-adds its
    ternarised layers carry (Amdahl's bound; a measured gain beyond it is timing noise, since
    torch runs the ternary weights as dense floats). Does not hold otherwise."""
    latency = run.service.get("latency")
    if not latency or not latency.get("ternary_measured_ratio"):
        return {"verdict": NOT_RUN, "detail": "the service stages did not run"}
    by_k, per_k = {}, {}
    for k, ratio in latency["ternary_measured_ratio"].items():
        bound = latency["ternary_max_speedup"][k] or float("inf")
        possible = bound >= 1 / (1 - TERNARY_MIN_GAIN)
        per_k[k] = HOLDS if ratio <= 1 - TERNARY_MIN_GAIN and possible else FAILS
        by_k[k] = {"ratio": r4(ratio), "flop_share": r4(latency["ternary_flop_share"][k]),
                   "max_speedup": r4(bound if np.isfinite(bound) else -1.0), "possible": int(possible),
                   "verdict": per_k[k]}
    return with_overall({"by_k": by_k, "min_gain": TERNARY_MIN_GAIN}, per_k)


def all_claims(run: Run) -> dict:
    """Every claim's record, keyed by its number, with the rule's level and spreads."""
    records = {"1": rule_claim(run, "dth", "dsh")}
    if "ce" in set(run.df["family"]):
        records["1b"] = rule_claim(run, "dth", "ce")
    records.update({"2": teacher_claim(run), "3": convergence_claim(run), "4": ternary_claim(run),
                    "5": layers_claim(run), "6a": compared_claim(run), "6b": backbone_claim(run),
                    "7": service_claim(run), "T": ternary_speed_claim(run)})
    spreads = {str(k): {"s": r4(s), "df": dof} for k in run.params["bits"] for s, dof in [spread(run, k)]}
    return {"confidence": run.params["claims"]["confidence"], "spread": spreads, "claims": records}


def summary_of(run: Run) -> dict:
    """The numbers worth diffing, per method and k (means over seeds); keys carry no param values
    but the code lengths, so the experiments' columns stay the same when other params change."""
    df = run.df
    out: dict = {"teacher_accuracy": round(run.teacher["accuracy"], 6)}
    for fam in ("teacher", *student_methods(run.params)):
        sub = df[df["family"] == fam].groupby("bits")
        out[f"{fam}_map"] = {str(int(k)): round(float(v), 6) for k, v in sub["map"].mean().items()}
        out[f"{fam}_precision_radius"] = {str(int(k)): round(float(v), 6)
                                          for k, v in sub["precision_radius"].mean().items()}
    heads = df[df["family"] == BACKBONE]
    if len(heads):  # the methods on the teacher's network: backbone_map.<method>.<k>
        out["backbone_map"] = {m: {str(int(k)): round(float(v), 6) for k, v in g.groupby("bits")["map"].mean().items()}
                               for m, g in heads.groupby("method", sort=False)}
    out["convergence_epochs"] = {m: r4(run.runs[run.runs["method"] == m]["epochs"].mean()) for m in ("dsh", "dth")}
    return out


def main(args) -> int:
    params = load_params(args.params)
    run = load_run(params, Path(args.results), Path(args.attempts) if args.attempts else None,
                   Path(args.service) if args.service else None)
    records = all_claims(run)
    write_json(args.summary, summary_of(run))
    write_json(args.out, records)
    verdicts = ", ".join(f"{n} {r['verdict']}" for n, r in records["claims"].items())
    print(f"wrote {args.out} ({verdicts}) and {args.summary}")
    return 0


