"""What DVC pays per stage for the size of dvc.lock, and how much of it the code deps are.

    .venv/bin/python bench/lock_cost.py                  # the checkout's dvc.lock, 5 repeats
    .venv/bin/python bench/lock_cost.py --lock other/dvc.lock --repeats 9

After every stage it runs, `dvc repro` loads the whole dvc.lock and writes it back with
that stage's entry updated (dvc.utils.serialize: ruamel.yaml round-trip, libyaml where
ruamel.yaml.clib is installed). This script times that load + dump, alternately on:
- the lock as it is;
- the same lock with each stage's dth/*.py deps replaced by a single entry (what a stage
  would list if it depended on one fingerprint file of the code it imports).
It prints the medians, their ratio, and what the difference comes to over the lock's
stages (one load + dump per stage run). The lock's composition (bytes per section) is
printed first. Nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from dvc.utils.serialize import dumps_yaml, parse_yaml

from dth.hardware import cpu_capability


def composition(text: str) -> Counter:
    """Bytes of the lock per section of a stage entry (cmd, deps, params, outs)."""
    section, sizes = None, Counter()
    for line in text.splitlines():
        m = re.match(r"^    (cmd|deps|params|outs):", line)
        if m:
            section = m.group(1)
        elif re.match(r"^  \S", line):
            section = "stage names"
        sizes[section or "header"] += len(line) + 1
    return sizes


def without_code_deps(lock: dict) -> dict:
    """The lock with each stage's dth/ deps replaced by one entry of the same form."""
    slim = copy.deepcopy(lock)
    for name, stage in slim["stages"].items():
        deps = stage.get("deps", [])
        code = [d for d in deps if str(d["path"]).startswith("dth/")]
        if code:
            stage["deps"] = [d for d in deps if d not in code] + [
                {**code[0], "path": f"results/code/{name.split('@')[0]}.sha256"}]
    return slim


def load_and_dump(text: str) -> float:
    start = time.perf_counter()
    dumps_yaml(parse_yaml(text, "dvc.lock"))
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lock", default="dvc.lock", help="lock file (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="timings of each variant (default: %(default)s)")
    args = p.parse_args()
    text = Path(args.lock).read_text()
    lock = parse_yaml(text, args.lock)
    slim_text = dumps_yaml(without_code_deps(lock))
    stages = len(lock["stages"])
    print(f"CPU capability {cpu_capability()}; {args.lock}: {len(text) / 1024:.0f} KB, {stages} stages")
    total = len(text)
    for section, size in composition(text).most_common():
        print(f"  {section:12s} {size / 1024:7.0f} KB  {100 * size / total:5.1f}%")
    deps = sum(1 for s in lock["stages"].values() for d in s.get("deps", []) if str(d["path"]).startswith("dth/"))
    print(f"  dth/ deps: {deps} entries ({deps / stages:.1f} per stage)")
    full, slim = [], []
    for _ in range(args.repeats):  # alternate, so that the machine's load falls on both alike
        full.append(load_and_dump(text))
        slim.append(load_and_dump(slim_text))
    f, s = statistics.median(full), statistics.median(slim)
    print(f"load + dump, median of {args.repeats}: as is {f:.2f} s ({len(text) / 1024:.0f} KB); "
          f"one code dep per stage {s:.2f} s ({len(slim_text) / 1024:.0f} KB); ratio {f / s:.2f}x")
    print(f"over {stages} stages (one load + dump each): {stages * f / 60:.1f} min as is, "
          f"{stages * s / 60:.1f} min with one code dep per stage")


if __name__ == "__main__":
    main()
