#!/usr/bin/env bash
# Run every benchmark and write their output to results/bench.md (needs the default run's
# models for bench/encode.py: `make run` first). Each script prints ratios measured in one run.
#   bash bench/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
out=results/bench.md
tmp=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bash bench/run_all.sh\` on $(nproc) CPU cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(date -u +%Y-%m-%d)."
  echo "Timings of a shared machine: compare the ratios, each measured within one run."
  for cmd in "bench/metrics.py" "bench/search.py" "bench/encode.py" "bench/train_throughput.py --size 28 --channels 1 --teacher-amp none" "bench/train_throughput.py --skip-teacher" "bench/lock_cost.py"; do
    echo
    echo "## \`python $cmd\`"
    echo
    echo '```'
    $py $cmd 2>&1 | grep -v '^\s*$'
    echo '```'
  done
} > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
