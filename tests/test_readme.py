"""README.md's verdicts are the committed run's: the same verdict for every claim as
results/claims.json, and claim 6a's at three seeds per method as the all-seeds attempt's row of
results/experiments.csv (the README is written by hand; this keeps it from drifting)."""

import json
import re
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_readme_verdicts_match_the_committed_claims():
    claims = json.loads((ROOT / "results" / "claims.json").read_text())["claims"]
    text = (ROOT / "README.md").read_text()
    rows = {m[1]: m[2].strip() for m in re.finditer(r"^\| (\w+) \| [^|]+ \| ([^|]+) \|$", text, re.M)}
    assert set(rows) == set(claims), sorted(set(rows) ^ set(claims))
    assert {n: rows[n] for n in claims} == {n: r["verdict"] for n, r in claims.items()}


def test_readme_is_a_five_minute_read():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 120


def test_readme_states_the_all_seeds_attempts_claim_6a_as_recorded():
    recorded = pd.read_csv(ROOT / "results" / "experiments.csv").set_index("name").loc["all-seeds"]
    text = " ".join((ROOT / "README.md").read_text().split())
    m = re.search(r"`all-seeds`.*?claim 6a is \*\*([\w ]+)\*\* again \(([^)]*)\)", text)
    assert m, "README.md: the sentence on the all-seeds attempt's claim 6a is missing"
    assert m[1] == recorded["claims.6a.verdict"]
    said = {}
    for part in m[2].split(";"):  # e.g. "holds at 24 bits", "a tie at 12 and 48"
        verdict, ks = re.match(r"\s*(.+?) at ([\d ,and]+)(?: bits)?\s*$", part).groups()
        said |= {k: verdict.removeprefix("a ") for k in re.findall(r"\d+", ks)}
    bits = sorted({c.split(".")[3] for c in recorded.index if c.startswith("claims.6a.by_k.")}, key=int)
    assert said == {k: recorded[f"claims.6a.by_k.{k}.verdict"] for k in bits}
