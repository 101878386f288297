"""`snakemake` with the Slurm executor's status checks capped at SECONDS apart (tests only).

    python tests/snakemake_quick_polls.py --workflow-profile ... --cores 2

snakemake-executor-plugin-slurm waits 10 s longer before each status check that finds no job
finished (up to 180 s), so the tiny pipeline's short jobs (a few seconds each) spent most of
tests/test_slurm.py waiting between checks. This caps every wait at SECONDS (1 s: the jobs
run one after the other on the test's 2-CPU node, so each wait delays the whole run); the jobs,
their submissions and what the test checks are unchanged.
"""

import sys

from snakemake.cli import main
from snakemake_executor_plugin_slurm import Executor
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor

SECONDS = 1
_base = RemoteExecutor.next_seconds_between_status_checks
Executor.next_seconds_between_status_checks = property(
    _base.fget, lambda self, value: _base.fset(self, min(value, SECONDS) if value is not None else value))

if __name__ == "__main__":
    sys.argv[0] = "snakemake"
    sys.exit(main())
