"""Render REPORT.md (the answer first), APPENDIX.md (what supports it), the tables and the figures.

    dth report --params params.yaml --results results --claims results/claims.json \
        --service results/service --attempts results/experiments.csv --out results

Reads only files that git holds (results/): the claims' records that `dth claims` wrote, the
per-model metrics, curves and speeds, the service stages' measurements and the recorded
attempts. REPORT.md opens with one table, a row per claim (what the paper says, what this run
measured with its 95% interval, the verdict), then the headline figure, then each claim's
detail. APPENDIX.md holds the supporting tables: the ternary sweep, radius precision, size and
batched speed, the validation sweeps that chose each method's settings, and the attempts (each
with the commit it ran on; one on other training code is shown and enters no verdict). Every
number comes from those files: nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pandas as pd

from dth.appendix import write_appendix
from dth.figures import convergence_figure, curve_figures, headline_figure, map_vs_t_figure, service_figure
from dth.io import atomic_dir, write_text
from dth.markdown import md_table, method_table
from dth.params import METHOD_NAMES, load_params, method_epochs
from dth.results import Run, compared_families, load_run, map_label, read_json, service_curve, stable_epochs
from dth.verdicts import MIXED


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--results", default="results", help="folder the other stages wrote into (default: %(default)s)")
    p.add_argument("--claims", default="results/claims.json", help="the claims' records (default: %(default)s)")
    p.add_argument("--service", default=None, help="folder of the service stages' files (claims 7 and T)")
    p.add_argument("--attempts", default=None, help="results/experiments.csv: attempts and validation sweeps")
    p.add_argument("--out", default="results",
                   help="where REPORT.md, APPENDIX.md, tables/ and figures/ go (default: %(default)s)")


# What the paper (or the seed's review) says, one line per claim, in the order of REPORT.md.
SAYS = {
    "1": "Distillation beats the DSH student (about +6 points)",
    "1b": "What the teacher adds: DTH against CE (no teacher)",
    "2": "The teacher: ahead in mAP, far behind in speed",
    "3": "Distillation converges more slowly (400 vs 100 epochs)",
    "4": "Ternary fc layers lose little mAP",
    "5": "Ternary conv layers too cost far more (the review)",
    "6a": "DTH beats the state of the art on the same network",
    "6b": "... and the methods on the teacher's big network",
    "7": "Binary search >= 10x faster than features, little mAP lost",
    "T": "Ternary weights accelerate retrieval (the seed)",
}


def cpu_text(cpu) -> str:
    """'AMD EPYC (AVX512, native bf16)' from the service stages' `cpu` record (or a string)."""
    if not isinstance(cpu, dict):
        return str(cpu or "")
    return f"{cpu.get('model', 'CPU')} ({cpu.get('cpu_capability', '?')}" + (
        ", native bf16)" if cpu.get("bf16_native") else ", no native bf16)")


def wrap(text: str) -> list[str]:
    return textwrap.wrap(text, 110, break_on_hyphens=False) + [""]


def pm(entry: dict) -> str:
    """'+1.79 ± 1.62' from a comparison entry of claims.json."""
    hw = entry["half_width"]
    return f"{entry['diff']:+.2f} ± {hw:.2f}" if hw >= 0 else f"{entry['diff']:+.2f} ± ?"


def verdict_text(record: dict) -> str:
    v = record["verdict"]
    detail = record.get("detail", "").replace(" at ", " ")
    return f"**{v}**: {detail}" if v == MIXED and detail else f"**{v}**"


def signed(key: str):
    """A formatter of per_k: the entry's `key` with its sign, 2 decimals."""
    return lambda e: format(e[key], "+.2f")


def per_k(record: dict, fmt) -> str:
    """One value per code length, 'a / b / c'."""
    return " / ".join(fmt(e) for e in record["by_k"].values())


# ----------------------------------------------------------------------------- the answer

def measured(n: str, r: dict, run: Run) -> str:
    """What this run measured for claim n, in one cell."""
    if r["verdict"] == "not run":
        return "- (see below)"
    if n in ("1", "1b"):
        return f"DTH - {r['b'].upper()}: {per_k(r, pm)}"
    if n == "2":
        s = r["speed"]
        return f"teacher - DTH: {per_k(r, pm)}; student {s['student_speedup']:.1f}x faster ({s['measure']})"
    if n == "3":
        return f"DTH - DSH: {r['diff']:+.1f} epochs to the share (DSH {r['dsh_epochs']:.1f})"
    if n == "4":
        return f"change at t = {r['t']:g}: {per_k(r, signed('change'))}"
    if n == "5":
        return f"extra change: {per_k(r, signed('extra'))}"
    if n in ("6a", "6b"):
        return (f"DTH - best: {per_k(r, lambda e: pm({'diff': e['best_diff'], 'half_width': e['best_half_width']}))}"
                f" ({per_k(r, lambda e: METHOD_NAMES[e['best']])})")
    if n == "7":
        return (f"at {r['database_size']:,}: {per_k(r, lambda e: format(e['speedup'], '.0f') + 'x')} faster; "
                f"mAP {per_k(r, lambda e: format(-e['price'], '+.2f'))}")
    if n == "T":
        e = next(iter(r["by_k"].values()))
        return (f"time ratio {per_k(r, lambda e: format(e['ratio'], '.2f'))}; at most {e['max_speedup']:.2f}x "
                f"({100 * e['flop_share']:.1f}% of FLOPs)")
    return ""


def answer(run: Run, claims: dict) -> list[str]:
    """The claims table, the rule and the headline figure: REPORT.md's first lines."""
    ks = " / ".join(str(k) for k in run.params["bits"])
    rows = [{"#": n, "the paper says": SAYS[n], f"this run measured ({ks} bits; points, ± 95%)": measured(n, r, run),
             "verdict": verdict_text(r)} for n, r in claims["claims"].items()]
    spreads = ", ".join(f"{k} bits s = {v['s']:.2f} (df {v['df']})" for k, v in claims["spread"].items())
    rule = (f"The rule (claims 1, 2, 6a, 6b): a difference of mean mAPs holds when it exceeds the half-width of its "
            f"two-sided {claims['confidence']:.0%} interval, t(df) x s x sqrt(1/n_a + 1/n_b), with s the pooled "
            f"seed-to-seed spread of every method run at 2+ seeds at that code length ({spreads} points); it does "
            "not hold when below minus it, else a tie. A method run at one seed gets that spread too. A claim holds "
            "if it holds at every code length, does not hold if it fails at every one, else mixed (the code lengths "
            "named). 6b borrows the student network's s.")
    return ["## Claims and verdicts", "", md_table(rows), "", *wrap(rule),
            "![mAP against code length](figures/headline.png)", ""]


# ----------------------------------------------------------------------------- each claim's detail

def rivals_table(record: dict) -> str:
    """DTH minus each rival, with the 95% half-width and the verdict, per k."""
    rows = {m: {"DTH minus": METHOD_NAMES[m]} for m in METHOD_NAMES}
    for k, e in record["by_k"].items():
        for m, c in e["methods"].items():
            rows.setdefault(m, {"DTH minus": METHOD_NAMES[m]})[f"{k} bits"] = f"{pm(c)} ({c['verdict']})"
    return md_table([r for r in rows.values() if len(r) > 1])


def details(run: Run, claims: dict) -> list[str]:
    params, c = run.params, claims["claims"]
    label = map_label(params)
    out = ["## Each claim", ""]
    r1 = c["1"]
    rows = [{"bits": k, "DSH": f"{e['dsh']:.2f}", "DTH": f"{e['dth']:.2f}", "DTH - DSH": pm(e), "verdict": e["verdict"],
             **({"CE": f"{c['1b']['by_k'][k]['ce']:.2f}", "DTH - CE": pm(c["1b"]["by_k"][k]),
                 "verdict (CE)": c["1b"]["by_k"][k]["verdict"]} if "1b" in c else {})}
            for k, e in r1["by_k"].items()]
    out += [f"### 1. {SAYS['1']}: {verdict_text(r1)}", "",
            *wrap(f"{label} (%), means over seeds {params['seeds']} (CE: {params['baseline_seeds']}). CE is the same "
                  "student trained on DTH's cross-entropy alone: DTH - CE is what the teacher adds (claim 1b: "
                  f"{c['1b']['verdict'] if '1b' in c else 'not run'})."), md_table(rows), ""]
    r2 = c["2"]
    rows = [{"bits": k, "teacher": f"{e['teacher']:.2f}", "DTH": f"{e['dth']:.2f}", "teacher - DTH": pm(e),
             "verdict": e["verdict"]} for k, e in r2["by_k"].items()]
    epochs = int(pd.read_csv(run.results / "plots" / "train" / "teacher.csv")["epoch"].iloc[-1])
    out += [f"### 2. {SAYS['2']}: {verdict_text(r2)}", "",
            *wrap(f"Teacher: {params['teacher']['arch']}, {epochs} epochs, test accuracy {r2['accuracy']:.1f}% "
                  f"(mean over its heads' classifiers). Speed: {r2['speed']['measure']} (the latency table under "
                  "claim 7; the batched throughput is in the appendix)."), md_table(rows), ""]
    r3 = c["3"]
    st = params["student"]
    out += [f"### 3. {SAYS['3']}: {verdict_text(r3)}", "",
            *wrap(f"Epochs to reach {params['convergence']['share']:.0%} of the final validation mAP, mean over every "
                  f"(k, seed) pair: DSH {r3['dsh_epochs']:.1f}, DTH {r3['dth_epochs']:.1f}, read over the "
                  f"{stable_epochs(st)} epochs before the final decay ({st['schedule']} lr {st['lr']:g}); holds when "
                  "DTH needs at least one epoch more on average and more in most pairs. "
                  + ("Every run had plateaued." if r3["plateaued"] else "Not every run had plateaued.")
                  + " See figures/convergence.png (appendix).")]
    r4 = c["4"]
    q = params["quantize"]
    out += [f"### 4. {SAYS['4']}: {verdict_text(r4)}", "",
            *wrap(f"The DTH student of seed {params['seed']}, its {q['layers']} layers ternarised at t = {r4['t']:g} "
                  f"and fine-tuned {q['epochs']} epochs: {label} change per k "
                  f"{per_k(r4, signed('change'))} points; holds within {r4['tolerance']:g} point. "
                  "One seed: the change is paired with its own full-precision model (every t: the appendix).")]
    r5 = c["5"]
    if r5["verdict"] != "not run":
        out += [f"### 5. {SAYS['5']}: {verdict_text(r5)}", "",
                *wrap(f"At t = {q['compare_t']:g}, the change with {q['compare_layers']} minus the change with "
                      f"{q['layers']}: {per_k(r5, signed('extra'))} points; holds when the extra loss "
                      f"exceeds {r5['costs']:g} point at every k, does not hold when under {r5['free']:g} at every k.")]
    r6 = c["6a"]
    if r6["verdict"] != "not run":
        lengths = [f"{METHOD_NAMES[m]} {method_epochs(params, m)}" for m in compared_families(run.df)]
        out += [f"### 6a. {SAYS['6a']}: {verdict_text(r6)}", "",
                *wrap(f"{label} (%), mean ± std over seeds; bold: the best of each column. Each method on the student "
                      f"network with its own learning rate, weight decay and length (epochs: {', '.join(lengths)}; "
                      f"DSH and DTH {st['epochs']}), chosen on a validation split (appendix). Holds at k when DTH "
                      "beats every one of them."), method_table(run), "", rivals_table(r6), ""]
    r6b = c["6b"]
    out += [f"### 6b. {SAYS['6b']}: {verdict_text(r6b)}", ""]
    out += ([*wrap(r6b["detail"])] if r6b["verdict"] == "not run" else
            [*wrap(f"On {params['teacher']['arch']} (the teacher's network, its schedule, one run each; CE there is "
                   f"the teacher), from {r6b['source']}; the spread is {r6b['spread']}."), rivals_table(r6b), ""])
    out += service_details(run, c)
    return out


def service_details(run: Run, c: dict) -> list[str]:
    """Claims 7 and T, and the latency of one query, end to end."""
    r7, rt = c["7"], c["T"]
    out = [f"### 7. {SAYS['7']}: {verdict_text(r7)}", ""]
    search, latency, quality = (run.service.get(x, {}) for x in ("search", "latency", "quality"))
    if r7["verdict"] != "not run":
        cpu = cpu_text(search.get("cpu") or latency.get("cpu"))
        rows = []
        bpi = quality.get("bytes_per_item", {}).get("dth", {})
        for k, e in r7["by_k"].items():
            us = search["search_us"]["dth"][k]
            n = str(r7["database_size"])
            size = bpi.get(k, {})
            rows.append({"bits": k, "binary µs": f"{us['binary'][n]['median']:,.0f}",
                         "real µs": f"{us['real'][n]['median']:,.0f}", "features µs": f"{us['features'][n]['median']:,.0f}",
                         "speed-up": f"{e['speedup']:.0f}x", f"{map_label(run.params)} binary": f"{e['map_binary']:.2f}",
                         "real": f"{e['map_real']:.2f}", "features": f"{e['map_features']:.2f}",
                         "price (points)": f"{e['price']:+.2f}", "verdict": e["verdict"],
                         "bytes per item": "/".join(str(size.get(x, "-")) for x in ("binary", "real", "features"))})
        sizes = ", ".join(f"{int(n):,}" for n in run.params["service"]["database_sizes"])
        out += [*wrap(f"The DTH student of seed {run.params['seed']}: median time of one query (top "
                      f"{search.get('topk', run.params['service']['topk'])}, one thread, index build excluded; {cpu}) at "
                      f"{r7['database_size']:,} items, over its packed codes (faiss IndexBinaryFlat), its hash layer's "
                      f"real-valued outputs and its {quality.get('dims', {}).get('dth', '')}-d penultimate features "
                      f"(IndexFlatL2); mAP on the run's own database. Holds at k when binary is at least "
                      f"{r7['min_speedup']:g}x faster and at most {r7['max_map_price']:g} points below the features. "
                      f"Sizes measured: {sizes} (beyond the real images, items grown from perturbed real features "
                      f"through the model's own hash layer); bytes per item: binary / real / features."),
                md_table(rows), "", *growth_text(search, run.params), "![query time against database size](figures/service_search.png)", ""]
    if latency:
        out += latency_table(run, latency, search)
    out += [f"### T. {SAYS['T']}: {verdict_text(rt)}", ""]
    if rt["verdict"] != "not run":
        rows = [{"bits": k, "ternary / full-precision time": f"{e['ratio']:.2f}",
                 "FLOP share of the ternary layers": f"{100 * e['flop_share']:.1f}%",
                 "most a 2-bit kernel could buy": f"{e['max_speedup']:.2f}x", "verdict": e["verdict"]}
                for k, e in rt["by_k"].items()]
        out += [*wrap(f"Holds when the ternary student (t = {run.params['service']['ternary_t']:g}) encodes one image "
                      f"at least {100 * rt['min_gain']:.0f}% faster than the full-precision student and a 2-bit kernel "
                      "could buy that much at all. Its weights are stored at 2 bits but run as dense floats (no "
                      "ternary kernel here); a kernel that made the ternarised layers free would buy at most "
                      "1 / (1 - share), so a measured gain beyond that bound is timing noise."), md_table(rows), ""]
    return out


def growth_text(search: dict, params: dict) -> list[str]:
    """How each search cost grows: ns per database item, from the two largest sizes (flat
    indexes scan every item, so the time grows linearly with the database)."""
    sizes = sorted(int(n) for n in params["service"]["database_sizes"])
    if len(sizes) < 2:
        return []
    a, b = str(sizes[-2]), str(sizes[-1])
    parts = []
    for model, name in (("dth", "DTH student"), ("teacher", "teacher")):
        for k, cells in search.get("search_us", {}).get(model, {}).items():
            slope = {kind: 1e3 * (c[b]["median"] - c[a]["median"]) / (int(b) - int(a)) for kind, c in cells.items()}
            parts.append(f"{name} {k} bits: " + ", ".join(f"{kind} {v:.1f}" for kind, v in slope.items()))
    return wrap("Growth (flat indexes scan every item, so time grows linearly with the database): ns per "
                f"item between {int(a):,} and {int(b):,} items, " + "; ".join(parts) + ".")


def latency_table(run: Run, latency: dict, search: dict) -> list[str]:
    """One query end to end: encode one image (batch 1) plus the binary search, per model and k."""
    sizes = sorted(int(n) for n in run.params["service"]["database_sizes"])
    small, large = str(sizes[0]), str(sizes[-1])
    rows = []
    for model, name in (("teacher", "teacher"), ("dth", "DTH student"), ("ttq", "ternary student")):
        for k, e in latency["encode_us"].get(model, {}).items():
            searched = search.get("search_us", {}).get("teacher" if model == "teacher" else "dth", {}).get(k, {})
            row = {"model": name, "bits": k, "encode µs (median)": f"{e['median']:,.0f}", "p95": f"{e['p95']:,.0f}"}
            for n in (small, large):
                s = searched.get("binary", {}).get(n, {}).get("median")
                row[f"queries/s at {int(n):,}"] = f"{1e6 / (e['median'] + s):,.0f}" if s is not None else "-"
            rows.append(row)
    return [*wrap(f"One query, end to end ({cpu_text(latency.get('cpu'))}, {latency.get('precision', '')}, one thread): "
                  "encode one image at batch size 1, then search the packed codes; queries per second that one core "
                  "serves = 1 / (encode + search) at the smallest and largest database."), md_table(rows), ""]


# ----------------------------------------------------------------------------- main

def hardware_line(run: Run) -> str:
    """The CPU the run's timings come from, its threads and the training precision."""
    h = run.speed["teacher"].get("hardware", {})
    cpu = run.service.get("latency", {}).get("cpu")
    cpu = cpu_text(cpu) if cpu else h.get("cpu_capability", "")
    return f"{cpu}, {h.get('threads', '?')} threads, {run.speed['teacher'].get('amp', '')}"


def main(args) -> int:
    params = load_params(args.params)
    results, out = Path(args.results), Path(args.out)
    run = load_run(params, results, Path(args.attempts) if args.attempts else None,
                   Path(args.service) if args.service else None)
    claims = read_json(Path(args.claims), "claims")
    with atomic_dir(out / "figures") as figures:
        figs = [headline_figure(run, claims, figures)]
        if args.service:
            figs.append(service_figure(service_curve(Path(args.service), params), figures))
        figs += curve_figures(run.df, results, figures, params["seed"])
        figs.append(map_vs_t_figure(run.tern, figures, params["quantize"]["layers"], map_label(params)))
        figs.append(convergence_figure(results, figures, params, run.runs))
    report = ["# DTH reproduction report", "",
              *wrap(f"{params['data']['dataset']}, protocol {params['data']['protocol']}; code lengths {params['bits']}; "
                    f"DSH and DTH at seeds {params['seeds']}, the other methods at {params['baseline_seeds']}; "
                    f"{map_label(params)}; trained on {hardware_line(run)}. Written by `dth report` from results/; "
                    "the supporting tables and figures are in [APPENDIX.md](APPENDIX.md)."),
              *answer(run, claims), *details(run, claims)]
    write_appendix(run, claims, out, [f for f in figs if f])
    write_text(out / "REPORT.md", "\n".join(report))
    print(f"wrote {out / 'REPORT.md'}, {out / 'APPENDIX.md'}, {len([f for f in figs if f])} figures")
    return 0

