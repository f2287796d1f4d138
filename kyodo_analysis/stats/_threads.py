"""One thread for the linear-algebra and OpenMP libraries around small-matrix work.

The awareness computations (a few items, a few dozen replicates, k-means on a survey's
rows) are sequences of tiny matrix operations: threads do not speed them up, and when the
machine is shared (the report's other worker processes, other users) BLAS or OpenMP threads
spinning for a core slow each operation tens of times (an SVD of 1,400 x 51 replicate
weights: 8 ms serially, 300 ms with two OpenBLAS threads on a loaded 2-core machine).
threadpoolctl limits only the libraries already loaded, so scikit-learn (OpenMP) is loaded
first when asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["one_thread", "single_threaded"]

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def one_thread(*, kmeans: bool = False) -> Iterator[None]:
    """BLAS and OpenMP held to one thread inside the block (``kmeans=True``: scikit-learn's
    OpenMP runtime loaded first so that it is held too)."""
    if kmeans:
        import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def single_threaded(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: ``fn`` runs inside :func:`one_thread`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_thread():
            return fn(*args, **kwargs)

    return wrapper
