"""README.md's verdicts table is the committed run's: the same verdict for every claim as
results/claims.json (the README is written by hand; this keeps it from drifting)."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_verdicts_match_the_committed_claims():
    claims = json.loads((ROOT / "results" / "claims.json").read_text())["claims"]
    text = (ROOT / "README.md").read_text()
    rows = {m[1]: m[2].strip() for m in re.finditer(r"^\| (\w+) \| [^|]+ \| ([^|]+) \|$", text, re.M)}
    assert set(rows) == set(claims), sorted(set(rows) ^ set(claims))
    assert {n: rows[n] for n in claims} == {n: r["verdict"] for n, r in claims.items()}


def test_readme_is_a_five_minute_read():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 120
