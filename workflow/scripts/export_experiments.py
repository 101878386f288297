"""Export the DVC experiments and commits that changed params into results/experiments.csv.

    .venv/bin/python workflow/scripts/export_experiments.py      # after `dvc exp run ...`

`dvc exp show --csv -A` lists every experiment and commit with its params and metrics;
this keeps the rows that have metrics, one per distinct params set, the params that
differ between them and the mAP of every model, so that `dth report` can show what
was tried (issue: "record each attempt as a DVC experiment ... with the evidence in
REPORT.md"). Run it by hand after experiments; the report stage reads the file.
"""
import io
import subprocess
import sys

import pandas as pd

csv = subprocess.run(["dvc", "exp", "show", "--csv", "--no-pager", "-A"], capture_output=True, text=True,
                     check=True).stdout
table = pd.read_csv(io.StringIO(csv), dtype=str)
maps = [c for c in table.columns if c.startswith("results/metrics/") and c.endswith(".json:map")]
params = [c for c in table.columns if not c.startswith(("results/", "models/", "codes/", "data/"))
          and c not in ("Experiment", "rev", "typ", "Created", "parent", "State", "Executor")]
table = table[table[maps].apply(lambda col: pd.to_numeric(col, errors="coerce")).notna().all(axis=1)]
table = table[table["rev"] != "workspace"].copy()
table["name"] = table["Experiment"].fillna("").str.strip().where(lambda s: s != "", table["rev"])
table = table.drop_duplicates(subset=params)
varying = [c for c in params if table[c].nunique() > 1]
out = table[["name"] + varying + maps].rename(columns=lambda c: c.removeprefix("results/metrics/")
                                               .removesuffix(".json:map"))
out.to_csv(sys.argv[1] if len(sys.argv) > 1 else "results/experiments.csv", index=False)
print(f"{len(out)} runs, varying params: {', '.join(varying) or 'none'}")
