"""Fixtures of every test, and how `make test` shares the tests between its workers.

The stages that a test runs in this process (`dth.cli.main([...])`) append their timing
records (dth/timing.py) to a file of the test's own, not to this checkout's
logs/timings.jsonl, which bench/pipeline_overhead.py reads after a pipeline run.

`make test` runs pytest-xdist with `--dist loadfile`, which this file refines
(`pytest_xdist_make_scheduler`): a unit of work is a test file, except that
- the files of SAME_WORKER go to one worker with the file they name: they reuse the tiny
  `dvc repro` run that tests/tiny.py makes once per worker (a second worker would run it again);
- each test of SPLIT is a unit of its own (the two presets' end-to-end runs go to whichever
  worker is free);
and the units start longest first (SLOWEST_FIRST, then the others in collection order), so that
no end-to-end run is left to start last on one worker while the others sit idle.
"""

import pytest

SAME_WORKER = {"tests/test_dvc_remote.py": "tests/test_dag.py"}
SPLIT = {"tests/test_presets.py"}
# measured on 2 cores (docs/performance.md): the tiny runs, the plans and the every-key experiment
# about 5.5 min; the Slurm run about 3.5 min, mostly waiting on the cluster; each preset 1.5 min
SLOWEST_FIRST = ["tests/test_dag.py", "tests/test_slurm.py", "tests/test_presets.py"]


@pytest.fixture(autouse=True)
def timing_log_of_the_test(tmp_path, monkeypatch):
    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv("DTH_TIMING_LOG", str(path))
    return path


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The slowest files first; the order within a file as collected."""
    rank = {f: i for i, f in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(SAME_WORKER.get(_file(item.nodeid), _file(item.nodeid)), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SlowestFirstScheduling(LoadScopeScheduling):
        """loadfile with SAME_WORKER's groups and SPLIT's tests, the units in collection order."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False  # collection order (above), not the most tests first

        def _split_scope(self, nodeid: str) -> str:
            file = _file(nodeid)
            return nodeid if file in SPLIT else SAME_WORKER.get(file, file)

    return SlowestFirstScheduling(config, log)
