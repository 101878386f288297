"""Fixtures of every test.

The stages that a test runs in this process (`dth.cli.main([...])`) append their timing
records (dth/timing.py) to a file of the test's own, not to this checkout's
logs/timings.jsonl, which bench/pipeline_overhead.py reads after a pipeline run.

`make test` hands whole test files to its two workers (--dist loadfile).
"""

import pytest


@pytest.fixture(autouse=True)
def timing_log_of_the_test(tmp_path, monkeypatch):
    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv("DTH_TIMING_LOG", str(path))
    return path
