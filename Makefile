# The two commands of a fresh machine (see README):
#   make run    the whole pipeline on the embedded default (Fashion-MNIST), via `dvc repro`
#   make test   the test suite
# Both create or reuse the virtualenv .venv and make sure Fashion-MNIST is there.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
# stage commands (`dth ...`, `dvc`, `snakemake`) come from the virtualenv
export PATH := $(BIN):$(PATH)

.PHONY: run test test-fast venv data clean help

help:
	@echo "make run   - run the whole pipeline on the default params (dvc repro): 55-58 min on a 2-core bf16 CPU, about 1 h 55 on AVX2 (docs/performance.md)"
	@echo "make test  - run the test suite, the end-to-end runs included: 6.5 min on a 2-core bf16 CPU, about 10 on AVX2 (docs/performance.md)"
	@echo "make test-fast - the tests without the slow end-to-end ones"

venv: $(VENV)/.installed

# Reinstalled when the pinned dependencies change.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

data: venv
	@bash workflow/scripts/ensure_fashion_mnist.sh

run: data
	dvc repro

# Three pytest-xdist workers on the two cores, whole test files to each (--dist loadfile, refined by
# tests/conftest.py: the files that share the tiny DVC run go to one worker, each preset is a unit of
# its own, the longest units start first). Three, not two: the Slurm run (tests/test_slurm.py) mostly
# waits on the cluster, and a third worker uses the core it leaves idle. (Not --dist loadgroup:
# pytest-xdist 3.8 marks a group by editing the test's node id, which pytest 9 no longer reads.)
# OMP_NUM_THREADS=1: each torch process on one thread, so that three workers' processes do not ask
# two cores for six threads; OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep, not spin.
test: data
	OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 python -m pytest -q --durations=15 -n 3 --dist loadfile

test-fast: data
	python -m pytest -q -m "not slow"

clean:
	rm -rf checkpoints .snakemake logs benchmarks
