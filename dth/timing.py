"""Where a pipeline run's time goes: every stage process logs the seconds spent inside its loops.

    from dth.timing import loop_timer
    with loop_timer("train"):          # the work itself: training epochs, encoding passes, metrics
        rows = fit(...)

`dth <stage>` (dth/cli.py) appends one JSON line per process to logs/timings.jsonl
(or $DTH_TIMING_LOG; an empty value turns it off) when the stage ends:
    {"stage": "train-student", "argv": [...], "start": <unix s, process start>,
     "end": <unix s>, "loop_seconds": {"train": 21.3, ...}, "status": 0, "pid": ...}
`start` is the process's own start time (from /proc where available), so the
interpreter's start and the imports count as time outside the loops. The log is
not an artifact: neither DVC nor Snakemake tracks it, and nothing reads it but
bench/pipeline_overhead.py, which subtracts the loops from a run's wall time.
Lines are written with one O_APPEND write each, so parallel Snakemake jobs can share it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path

DEFAULT_LOG = "logs/timings.jsonl"
_loops: dict[str, float] = defaultdict(float)


@contextlib.contextmanager
def loop_timer(kind: str):
    """Add the wall seconds of the block to this process's loop time of `kind`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _loops[kind] += time.perf_counter() - start


def loop_seconds() -> dict[str, float]:
    """The loop seconds of this process so far, by kind."""
    return dict(_loops)


def process_start_time() -> float:
    """Unix time at which this process started (Linux /proc), else now's best guess."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        stat = Path(f"/proc/{os.getpid()}/stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: starttime, after the command name
        uptime = float(Path("/proc/uptime").read_text().split()[0])  # s since boot, 10 ms resolution
        return time.time() - (uptime - start_ticks / ticks)
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT


_IMPORTED_AT = time.time()


def log_path() -> Path | None:
    value = os.environ.get("DTH_TIMING_LOG", DEFAULT_LOG)
    return Path(value) if value else None


def write_record(stage: str, argv: list[str], status: int) -> None:
    """Append this process's record to the timing log; never fails the stage."""
    path = log_path()
    if path is None:
        return
    record = {"stage": stage, "argv": argv, "start": round(process_start_time(), 3), "end": round(time.time(), 3),
              "loop_seconds": {k: round(v, 3) for k, v in _loops.items()}, "status": status, "pid": os.getpid()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass
