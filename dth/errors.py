"""The one exception type for bad input: the CLI prints its message on one line and exits 2.

Raise `DthError("file X: what is wrong; what would be accepted")` for anything a user
can fix (missing data, a corrupted archive, a bad list line, an unknown name); let
programming errors raise normally so they keep their traceback.
"""


class DthError(Exception):
    """Bad input or environment that the user can fix; the message says how."""
