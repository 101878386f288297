"""dth: Deep Transfer Hashing, a reproducible pipeline.

Stages (each a `dth <stage>` subcommand, see `dth --help`):
prepare -> train-teacher -> train-student -> ternarize -> encode -> evaluate -> report,
plus `dth search` to query a database of codes.
"""

__version__ = "0.1.0"
