"""Run the attempts of workflow/attempts.yaml as DVC experiments and record their numbers.

    .venv/bin/python workflow/scripts/attempts.py                # run the missing ones, then record
    .venv/bin/python workflow/scripts/attempts.py doubled-epochs # run (or rerun) one, then record
    .venv/bin/python workflow/scripts/attempts.py --record-only  # rewrite the CSV from `dvc exp show`
    dvc repro report                                             # REPORT.md's "Attempts" then shows them

An attempt is a named change of params against the committed params.yaml (e.g. every
epoch count doubled). Each runs as `dvc exp run --temp -n <name> -S <key=value> ...`
on the current commit (stages it does not change come from the DVC cache), so the
working tree is left alone; the command is printed and is what reproduces it. One row per
attempt in results/experiments.csv: name, commit (the experiment's baseline revision: the
commit it ran on), set, about, then the numbers that today's dth/claims.py computes from the
result files of the experiment's commit, flattened: summary.json's (teacher_map.12,
dth_map.48, ...) and claims.json's (claims.6a.verdict, claims.6a.by_k.12.best_diff, ...).
The appendix shows every row with its commit; a row whose commit's training code or params
differ from today's enters no verdict (dth/results.py, attempt_is_current). Needs a
committed HEAD with its results (`make run`, commit).

Do not edit dth/ while an attempt runs: its stages run the `dth` command of .venv, an editable
install of this checkout, so an experiment runs the working tree's code, not its commit's (the
first `all-seeds` run trained its 30 students, then failed at its `claims` stage because the
claims code had changed under it in the meantime). To go on working meanwhile, run it from a
second `git clone` with its own `.venv` (`make venv`) and this checkout's DVC cache
(`dvc cache dir --local <cache>`), then `git fetch <clone> 'refs/exps/*:refs/exps/*'` here and
rerun this script with --record-only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from dth.errors import DthError
from dth.params import flat_keys

ROOT = Path(__file__).resolve().parents[2]
ATTEMPTS = ROOT / "workflow" / "attempts.yaml"
OUT = ROOT / "results" / "experiments.csv"
SUMMARY = "results/summary.json"


def load_attempts() -> list[dict]:
    attempts = yaml.safe_load(ATTEMPTS.read_text())["attempts"]
    for a in attempts:
        if not {"name", "about", "set"} <= set(a):
            sys.exit(f"{ATTEMPTS}: each attempt needs name, about and set (a list of key=value); got {a}")
    return attempts


def experiments() -> dict[str, dict]:
    """{experiment name: {"rev": its commit, "baseline": the commit it ran on}} for every
    experiment `dvc exp show` reaches (the first found of a name: the newest)."""
    out = subprocess.run(["dvc", "exp", "show", "--json", "-A"], cwd=ROOT, capture_output=True, text=True, check=True)
    found = {}

    def walk(node, baseline=None):
        if isinstance(node, list):
            for item in node:
                walk(item, baseline)
        elif isinstance(node, dict):
            name, rev = node.get("name"), node.get("rev")
            if name and baseline and rev and isinstance(node.get("data"), dict):
                found.setdefault(name, {"rev": rev, "baseline": baseline})
            if node.get("experiments"):
                walk(node["experiments"], rev)
            for item in node.get("revs") or []:
                walk(item, baseline or rev)
    walk(json.loads(out.stdout))
    return found


def numbers(rev: str) -> dict:
    """The experiment's summary and claims, computed by today's dth/claims.py from the result files
    its commit holds (results/ is in git), so that every attempt has the same columns: its
    summary.json keys, then claims.<claim>.<...> of its claims.json."""
    from dth.claims import all_claims, summary_of
    from dth.params import validate
    from dth.results import load_run

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", rev, "results", "params.yaml"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        params = yaml.safe_load((Path(tmp) / "params.yaml").read_text())
        for section in ("claims", "service"):  # an experiment of a commit before these sections
            params.setdefault(section, yaml.safe_load((ROOT / "params.yaml").read_text())[section])
        run = load_run(validate(params, source=f"{rev[:8]}:params.yaml"), Path(tmp) / "results")
        return {**flat_keys(summary_of(run)), **flat_keys({"claims": all_claims(run)["claims"]})}


def run(attempt: dict, rerun: bool) -> None:
    name = attempt["name"]
    if rerun:
        subprocess.run(["dvc", "exp", "remove", name], cwd=ROOT, capture_output=True)
    cmd = ["dvc", "exp", "run", "--temp", "-n", name] + [x for kv in attempt["set"] for x in ("-S", kv)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def record(attempts: list[dict], found: dict) -> None:
    rows = []
    for a in attempts:
        if a["name"] not in found:
            print(f"{a['name']}: no experiment of that name yet (run this script with its name)")
            continue
        exp = found[a["name"]]
        try:
            measured = numbers(exp["rev"])
        except DthError as e:  # an experiment that failed or was stopped before its last stage
            print(f"{a['name']}: not recorded, its experiment {exp['rev'][:8]} lacks result files ({e})")
            continue
        rows.append({"name": a["name"], "commit": exp["baseline"], "set": " ".join(f"-S {kv}" for kv in a["set"]),
                     "about": a["about"], **measured})
    first = ["name", "commit", "set", "about"]
    table = pd.DataFrame(rows, columns=first + sorted({k for r in rows for k in r} - set(first)))
    if OUT.exists():  # rows recorded before stay unless rerun: attempts whose experiment this checkout's
        # DVC no longer lists, and the learning-rate sweep's (workflow/scripts/sweep_lr.py)
        old = pd.read_csv(OUT, dtype={"name": str})
        table = pd.concat([table, old[~old["name"].isin(table["name"])]], ignore_index=True)
    table.to_csv(OUT, index=False)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} attempts")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="attempts to run (or rerun); default: those not run yet")
    p.add_argument("--record-only", action="store_true", help="run nothing, rewrite the CSV")
    a = p.parse_args()
    attempts = load_attempts()
    known = {x["name"] for x in attempts}
    unknown = [n for n in a.names if n not in known]
    if unknown:
        sys.exit(f"unknown attempt(s) {unknown}; {ATTEMPTS.relative_to(ROOT)} has {sorted(known)}")
    if not a.record_only:
        found = experiments()
        for attempt in attempts:
            if attempt["name"] in a.names or (not a.names and attempt["name"] not in found):
                run(attempt, rerun=attempt["name"] in found)
    record(attempts, experiments())
    return 0


if __name__ == "__main__":
    sys.exit(main())
