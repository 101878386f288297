"""Shared by the bench scripts: the median wall time of a call, and its last value."""

import statistics
import time


def median_time(fn, repeat: int = 1):
    """(median seconds over `repeat` calls of fn(), the last call's return value)."""
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value
