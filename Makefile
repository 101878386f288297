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
	@echo "make test  - run the test suite (includes the slow end-to-end DAG tests)"
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

# Two pytest-xdist workers, each test file on one of them (--dist loadfile: test_dag.py's tests share
# the tiny runs of tests/tiny.py, made once per worker): the Slurm test, which mostly waits on the
# cluster's status checks, runs beside the tiny pipelines. (Not --dist loadgroup: pytest-xdist 3.8
# marks a group by editing the test's node id, which pytest 9 no longer reads, so the groups fell
# apart and both workers ran the tiny pipelines.)
# OMP_WAIT_POLICY=PASSIVE: OpenMP threads of the two workers' torch processes sleep, not spin, when
# idle (the numbers do not change; 2 cores run 3 or 4 such threads at times).
test: data
	OMP_WAIT_POLICY=PASSIVE python -m pytest -q --durations=15 -n 2 --dist loadfile

test-fast: data
	python -m pytest -q -m "not slow"

clean:
	rm -rf checkpoints .snakemake logs benchmarks
