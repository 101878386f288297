"""How much of a pipeline run is spent outside the work loops (start-up, imports, I/O, DVC).

    .venv/bin/python bench/pipeline_overhead.py                       # runs `dvc repro --force`, then reports
    .venv/bin/python bench/pipeline_overhead.py -- snakemake --cores 2 --forceall
    .venv/bin/python bench/pipeline_overhead.py --since 1764000000    # report on a run already in the log

Every `dth <stage>` process appends to logs/timings.jsonl (dth/timing.py) its start
and end time and the seconds it spent inside its loops (training epochs with their
validation, encoding passes, metric computation, data preparation). This script runs
the command (or takes the log from --since on), and prints:
- wall: the command's wall time;
- loops: the sum of the loop seconds of the processes it started;
- the non-loop share, 1 - loops / wall (what issue 10 asks to bring under 25%);
- per stage kind: processes, their mean seconds outside the loop (start-up, imports,
  loading and saving) and the total of it;
- the orchestrator's share: wall minus the time covered by stage processes
  (DVC or Snakemake deciding, hashing, caching, writing the lock file).
Run it in a copy of the repository if you want the committed results kept: with
`dvc repro --force` it retrains everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from dth.hardware import describe
from dth.timing import DEFAULT_LOG


def read_records(log: Path, since: float, until: float) -> list[dict]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r["start"] >= since - 1.0 and r["end"] <= until + 1.0:
            out.append(r)
    return out


def covered_seconds(records: list[dict]) -> float:
    """Length of the union of the processes' [start, end] intervals."""
    total, end = 0.0, float("-inf")
    for r in sorted(records, key=lambda r: r["start"]):
        if r["end"] <= end:
            continue
        total += r["end"] - max(r["start"], end)
        end = r["end"]
    return total


def report(records: list[dict], wall: float) -> str:
    if not records:
        return "no dth stage processes in the log for that time: nothing ran (up to date?)"
    loops = sum(sum(r["loop_seconds"].values()) for r in records)
    by_stage: dict[str, list[float]] = defaultdict(list)
    by_stage_loop: dict[str, float] = defaultdict(float)
    for r in records:
        inside = sum(r["loop_seconds"].values())
        by_stage[r["stage"]].append((r["end"] - r["start"]) - inside)
        by_stage_loop[r["stage"]] += inside
    covered = covered_seconds(records)
    lines = [f"{describe(__import__('torch').device('cpu'))}",
             f"wall {wall:.1f} s, {len(records)} stage processes; inside their loops {loops:.1f} s; "
             f"non-loop share {1 - loops / wall:.1%}",
             f"orchestrator (wall not covered by any stage process): {wall - covered:.1f} s "
             f"({(wall - covered) / wall:.1%})",
             "", f"{'stage':16s} {'processes':>9s} {'loop s':>9s} {'outside s (total)':>18s} {'outside s (mean)':>17s}"]
    for stage, outside in sorted(by_stage.items(), key=lambda kv: -sum(kv[1])):
        lines.append(f"{stage:16s} {len(outside):9d} {by_stage_loop[stage]:9.1f} {sum(outside):18.1f} "
                     f"{statistics.mean(outside):17.2f}")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", default=os.environ.get("DTH_TIMING_LOG") or DEFAULT_LOG, help="timing log (default: %(default)s)")
    p.add_argument("--since", type=float, default=None, help="report on the log from this unix time on; run nothing")
    p.add_argument("--until", type=float, default=None, help="with --since: up to this unix time (default: now)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command to run (default: dvc repro --force)")
    a = p.parse_args()
    log = Path(a.log)
    if a.since is not None:
        until = a.until or time.time()
        records = read_records(log, a.since, until)
        wall = (max(r["end"] for r in records) - a.since) if records and a.until is None else until - a.since
        print(report(records, wall))
        return 0
    command = [c for c in a.command if c != "--"] or ["dvc", "repro", "--force"]
    env = {**os.environ, "DTH_TIMING_LOG": str(log.resolve())}
    start = time.time()
    rc = subprocess.run(command, env=env).returncode
    end = time.time()
    print(f"\n$ {' '.join(command)}  (exit {rc})")
    print(report(read_records(log, start, end), end - start))
    return rc


if __name__ == "__main__":
    sys.exit(main())
