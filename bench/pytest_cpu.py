"""Where `make test`'s time goes: each test's wall time and CPU, and how busy the machine was.

    PYTHONPATH=bench OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
        .venv/bin/python -m pytest -q -p pytest_cpu -n 3 --dist loadfile   # the suite as `make test` runs it
    .venv/bin/python bench/pytest_cpu.py                                   # then: the figures

As a pytest plugin (`-p pytest_cpu`), every test appends one JSON line to $PYTEST_CPU_LOG
(default logs/pytest_cpu.jsonl, emptied when the run starts): its worker, start, wall seconds and
CPU seconds of the worker process and of the processes it waited for (getrusage: a stage that a
test runs through DVC or Snakemake counts; a Slurm job, run by slurmd, does not). The run's
first and last line of /proc/stat give the machine's busy core-seconds. As a script, it prints
per worker its end, per file its wall and CPU, the slowest tests, and the machine's share busy.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

LOG = Path(os.environ.get("PYTEST_CPU_LOG", "logs/pytest_cpu.jsonl"))


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _machine() -> dict:
    """Busy and total core-seconds of the machine since boot (/proc/stat; empty where unreadable)."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return {}
    hz = os.sysconf("SC_CLK_TCK")
    return {"time": time.time(), "busy": (sum(ticks) - ticks[3] - ticks[4]) / hz, "total": sum(ticks) / hz}


def _write(record: dict) -> None:
    with LOG.open("a") as f:
        f.write(json.dumps(record) + "\n")


def pytest_sessionstart(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller (or a run without xdist)
        LOG.parent.mkdir(parents=True, exist_ok=True)
        LOG.write_text("")
        _write({"machine_start": _machine()})


def pytest_sessionfinish(session):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _write({"machine_end": _machine()})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start, cpu = time.time(), _cpu()
    yield
    _write({"id": item.nodeid, "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"), "start": start,
            "wall": time.time() - start, "cpu": _cpu() - cpu})


def report(path: Path) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    tests = [r for r in lines if "id" in r]
    if not tests:
        sys.exit(f"{path}: no test records; run pytest with -p pytest_cpu first (see --help)")
    t0 = min(r["start"] for r in tests)
    workers = collections.defaultdict(list)
    for r in tests:
        workers[r["worker"]].append(r)
    for worker, rs in sorted(workers.items()):
        print(f"{worker}: {len(rs)} tests, its last ends at {max(r['start'] + r['wall'] for r in rs) - t0:.0f} s, "
              f"CPU {sum(r['cpu'] for r in rs):.0f} s")
    files = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for r in tests:
        f = files[r["id"].split("::")[0]]
        f[0], f[1], f[2] = f[0] + 1, f[1] + r["wall"], f[2] + r["cpu"]
    print("\nper file: wall s, CPU s, tests")
    for name, (n, wall, cpu) in sorted(files.items(), key=lambda x: -x[1][1])[:12]:
        print(f"  {wall:7.1f} {cpu:7.1f} {n:4d}  {name}")
    print("\nslowest tests: wall s, CPU s, start s, worker")
    for r in sorted(tests, key=lambda r: -r["wall"])[:10]:
        print(f"  {r['wall']:7.1f} {r['cpu']:7.1f} {r['start'] - t0:6.0f}  {r['worker']}  {r['id']}")
    start = next((r["machine_start"] for r in lines if r.get("machine_start")), None)
    end = next((r["machine_end"] for r in lines if r.get("machine_end")), None)
    if start and end:
        busy, total = end["busy"] - start["busy"], end["total"] - start["total"]
        print(f"\nmachine: {end['time'] - start['time']:.0f} s, {busy:.0f} core-seconds busy "
              f"({100 * busy / total:.0f}% of {os.cpu_count()} cores)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0)
    report(Path(sys.argv[1]) if len(sys.argv) > 1 else LOG)
