"""Fixtures of every test.

The stages that a test runs in this process (`dth.cli.main([...])`) append their timing
records (dth/timing.py) to a file of the test's own, not to this checkout's
logs/timings.jsonl, which bench/pipeline_overhead.py reads after a pipeline run.

`make test` hands whole xdist groups to its two workers (--dist loadgroup): every test file
is a group of its own, as under --dist loadfile, unless its tests name a group (the files that
share tests/tiny.py's local run of the tiny pipeline name one, so that it is made once).
"""

import pytest


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.name))


@pytest.fixture(autouse=True)
def timing_log_of_the_test(tmp_path, monkeypatch):
    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv("DTH_TIMING_LOG", str(path))
    return path
