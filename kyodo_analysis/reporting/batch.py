"""Run many notebooks in parallel on a ``concurrent.futures`` executor.

The default executor is a local process pool sized to the machine; ``scheduler="tcp://..."``
runs on a dask.distributed cluster instead (through its ``concurrent.futures`` interface), and
any ready-made :class:`concurrent.futures.Executor` can be passed. Each notebook is one task
(:func:`kyodo_analysis.reporting.runner.run_job`): a failing notebook is a result, never an
exception, so the others finish. A tqdm bar on stderr shows done / running / failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from kyodo_analysis.errors import ReportError
from kyodo_analysis.reporting.runner import NotebookJob, NotebookResult, run_job

__all__ = ["default_jobs", "open_executor", "run_batch"]

log = logging.getLogger(__name__)

#: Seconds between a worker's checks that the process that started it is still alive.
WATCHDOG_INTERVAL = 0.5


def _die_with_parent(parent: int) -> None:
    """Pool initializer: end this worker as soon as the report process is gone.

    A pool worker waits on its task queue forever, so after ``kill -9`` (or the OOM killer) of
    the report the workers and the multiprocessing resource tracker would stay alive. A daemon
    thread watches the parent id and exits the worker when it changes; the worker's Jupyter
    kernels follow within a second (ipykernel watches its own parent the same way), and the
    resource tracker ends when its last client is gone.
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCHDOG_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="kyodo-parent-watchdog", daemon=True).start()


def default_jobs() -> int:
    """Worker processes for this machine: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_executor(*, jobs: int | None = None, scheduler: str | None = None
                  ) -> Iterator[cf.Executor]:
    """A local process pool (``jobs`` workers) or a dask.distributed cluster's executor.

    Processes are started with ``spawn``: workers then begin from a clean interpreter whatever
    threads the caller runs (progress bar, logging), which ``fork`` does not guarantee.

    Raises
    ------
    ReportError
        When dask.distributed is not installed or the scheduler cannot be reached.
    """
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ReportError("--scheduler needs dask.distributed: pip install 'dask[distributed]'"
                              ) from None
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ReportError(f"cannot reach the dask scheduler {scheduler}: {exc}") from None
        try:
            with client.get_executor(pure=False) as executor:
                yield executor
        finally:
            client.close()
        return
    ctx = multiprocessing.get_context("spawn")
    executor = cf.ProcessPoolExecutor(max_workers=jobs or default_jobs(), mp_context=ctx,
                                      initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        yield executor
    except BaseException:
        # Interrupted (Ctrl-C, a crash while publishing): start nothing more, don't wait.
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="notebooks", unit="nb", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=True)


def run_batch(jobs: Sequence[NotebookJob], *, executor: cf.Executor | None = None,
              max_workers: int | None = None, scheduler: str | None = None,
              progress: bool = True,
              on_result: Callable[[NotebookResult], None] | None = None,
              in_flight: int | None = None) -> list[NotebookResult]:
    """Run ``jobs`` in parallel; return one result per job, in the order of ``jobs``.

    Parameters
    ----------
    jobs
        The notebook runs.
    executor
        An executor to submit to (left open); otherwise one is opened with
        :func:`open_executor` from ``max_workers`` and ``scheduler``.
    progress
        Show the tqdm bar on stderr.
    on_result
        Called in this process as each notebook finishes (e.g. to log it).
    in_flight
        Most jobs submitted at once (default: all).
    """
    if executor is None:
        with open_executor(jobs=max_workers, scheduler=scheduler) as ex:
            limit = (max_workers or default_jobs()) if not scheduler else None
            return run_batch(jobs, executor=ex, progress=progress, on_result=on_result,
                             in_flight=limit)
    # Submitting no more than the pool can run keeps "running" honest in the progress bar
    # (a process pool marks queued calls as running) and lets a late job start first-come.
    limit = in_flight or len(jobs)
    queue = list(enumerate(jobs))
    futures: dict[cf.Future, int] = {}
    results: list[NotebookResult | None] = [None] * len(jobs)
    failed = 0
    with _progress(len(jobs), progress) as bar:
        while queue or futures:
            while queue and len(futures) < limit:
                i, job = queue.pop(0)
                futures[executor.submit(run_job, job)] = i
            done, _ = cf.wait(set(futures), timeout=1.0, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                i = futures.pop(fut)
                job = jobs[i]
                try:
                    result = fut.result()
                except Exception as exc:
                    result = NotebookResult(job.id, job.output, False,
                                            f"worker failed: {type(exc).__name__}: {exc}",
                                            status="error", parameters=dict(job.parameters))
                results[i] = result
                failed += not result.ok
                if on_result is not None:
                    on_result(result)
                bar.update(1)
            running = sum(1 for f in futures if f.running())
            bar.set_postfix(running=running, failed=failed, refresh=True)
    return [r for r in results if r is not None]
