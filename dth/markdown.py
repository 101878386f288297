"""The tables of REPORT.md and APPENDIX.md, in one style.

    from dth.markdown import md_table, method_table
    md_table([{"bits": 12, "mAP": "80.1"}])     # a pipe table of the cells as given
    method_table(run)                           # every student method's mean ± std per k, best in bold
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dth.params import METHOD_NAMES
from dth.results import Run, compared_families, maps_of


def md_table(rows) -> str:
    """pandas' pipe table of the cells as given (rows: a DataFrame or a list of dicts)."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    return df.map(_cell).to_markdown(index=False, disable_numparse=True)


def _cell(value) -> str:
    """NaN and None as '-', whole floats without '.0', others with up to 10 digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else f"{value:.10g}"
    return str(value)


def method_table(run: Run, column: str = "map") -> str:
    """Every student method's mean ± std (%) per k; bold: the best of each column, DTH included."""
    df, bits = run.df, list(run.params["bits"])
    methods = ["dth", "dsh", *compared_families(df)]
    best = {k: max(methods, key=lambda m: maps_of(df, m, k, column).mean()) for k in bits}
    rows = []
    for m in methods:
        row = {"method": METHOD_NAMES[m] + (" (distilled)" if m == "dth" else ""),
               "seeds": len(maps_of(df, m, bits[0], column))}
        for k in bits:
            v = 100 * maps_of(df, m, k, column)
            text = f"{v.mean():.2f}" + (f" ± {v.std(ddof=1):.2f}" if len(v) > 1 else "")
            row[f"{k} bits"] = f"**{text}**" if best[k] == m else text
        rows.append(row)
    return md_table(rows)


