"""Fixtures of every test, and how `make test` shares the tests between its workers.

The stages that a test runs in this process (`dth.cli.main([...])`) append their timing
records (dth/timing.py) to a file of the test's own, not to this checkout's
logs/timings.jsonl, which bench/pipeline_overhead.py reads after a pipeline run.

`make test` runs pytest-xdist with `--dist loadfile`, which this file refines
(`pytest_xdist_make_scheduler`): a unit of work is a test file, but each test of SPLIT is a unit
of its own (the two presets' runs, the comparisons of the finished runs: they go to whichever
worker is free). The units start longest first (SLOWEST_FIRST, then the others in collection
order, then LAST: the tests that wait for the Slurm run, which ends late), and a worker that
still has a slow unit's test to run is handed short units only: pytest-xdist gives a worker its
next unit before it starts the last test of the current one, so one end-to-end run would
otherwise wait behind another on one worker while a third worker runs short tests.
"""

import pytest

SPLIT = {"tests/test_presets.py", "tests/test_finished_runs.py"}
# the end-to-end runs, longest first (docs/performance.md has their times): the tiny DVC run (the
# DVC remote's test makes it for the session, tests/tiny.py); the Slurm run, mostly waiting on the
# cluster; the presets; the every-key experiment (it waits for the tiny DVC run, then copies it)
SLOWEST_FIRST = ["tests/test_dvc_remote.py", "tests/test_slurm.py", "tests/test_presets.py", "tests/test_every_key.py"]
# the comparisons of the finished DVC and Snakemake runs: they wait for the Slurm run's copy
LAST = ["tests/test_finished_runs.py"]


@pytest.fixture(autouse=True)
def timing_log_of_the_test(tmp_path, monkeypatch):
    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv("DTH_TIMING_LOG", str(path))
    return path


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The slowest files first, LAST's last; the order within a file as collected."""
    rank = {f: i for i, f in enumerate(SLOWEST_FIRST)} | {f: len(SLOWEST_FIRST) + 1 for f in LAST}
    items.sort(key=lambda item: rank.get(_file(item.nodeid), len(SLOWEST_FIRST)))


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SlowestFirstScheduling(LoadScopeScheduling):
        """loadfile with SPLIT's tests as units of their own, the units in collection order."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False  # collection order (above), not the most tests first

        def _split_scope(self, nodeid: str) -> str:
            file = _file(nodeid)
            return nodeid if file in SPLIT else file

        def _assign_work_unit(self, node) -> None:
            """The first unit of the queue, or the first short one while this worker has a slow
            unit's test still to run (the first unit anyway when only slow ones are left)."""
            slow = lambda scope: _file(scope) in SLOWEST_FIRST  # noqa: E731
            busy = any(slow(scope) and not all(done.values()) for scope, done in self.assigned_work.get(node, {}).items())
            if busy:
                short = next((scope for scope in self.workqueue if not slow(scope)), None)
                if short is not None:
                    self.workqueue.move_to_end(short, last=False)
            super()._assign_work_unit(node)

    return SlowestFirstScheduling(config, log)
