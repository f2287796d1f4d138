"""Execute one parameterised notebook with papermill and export it to HTML.

Notebooks always run on the interpreter that runs kyodo_analysis (the project's ``.venv``),
whatever kernelspecs the user has installed elsewhere: a private kernelspec pointing at
``sys.executable`` is written to a temporary Jupyter data directory that is put first on
``JUPYTER_PATH`` while any run is in progress (shared, reference-counted, so threads of one
process - e.g. a dask worker - can run notebooks side by side).

Kernel *start-up* failures, which parallel starts provoke now and then (a port taken between
choosing and binding it, a kernel too slow to answer ``kernel_info``), are retried; a failure
after any cell has started is never retried, since it is the analysis that failed.

Each kernel's numerical libraries run single-threaded (:data:`KERNEL_THREAD_LIMITS`, unless
the user's environment sets them): the report runs one notebook per core, and a survey's
matrices are small, so a multi-threaded BLAS in every kernel only makes the kernels spin
against each other (measured on 2 cores: the Rao–Scott tables of a page took 3.4 times the
CPU with two OpenBLAS threads per kernel). dask.distributed starts its workers the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kyodo_analysis.errors import ReportError

__all__ = [
    "KERNEL_NAME",
    "KERNEL_THREAD_LIMITS",
    "NotebookJob",
    "NotebookResult",
    "execute_notebook",
    "export_html",
    "is_kernel_start_failure",
    "project_kernel",
    "run_job",
]

KERNEL_NAME = "kyodo-project-python"

#: Thread counts given to every notebook kernel (a variable already set by the user wins).
KERNEL_THREAD_LIMITS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_kernel_lock = threading.Lock()
_kernel_users = 0
_kernel_tmp: tempfile.TemporaryDirectory | None = None
_saved_jupyter_path: str | None = None


def _package_parent() -> str:
    return str(Path(__file__).resolve().parents[2])


def _write_kernelspec(root: str) -> None:
    spec_dir = Path(root) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        # Kernel-side log noise (TCP transport notice, "KeyboardInterrupt caught" at shutdown) stays out of
        # unattended runs' logs; errors in notebook cells still reach the outputs.
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=CRITICAL"],
        "display_name": "kyodo_analysis (project interpreter)",
        "language": "python",
        "metadata": {"debugger": False},
        # The kernel imports the same kyodo_analysis as the runner (a source checkout or
        # worktree may differ from what the interpreter's site-packages would give).
        "env": {"PYTHONPATH": os.pathsep.join(
            [_package_parent()] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
                **{k: os.environ.get(k, v) for k, v in KERNEL_THREAD_LIMITS.items()}},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")


@contextlib.contextmanager
def project_kernel() -> Iterator[str]:
    """Make :data:`KERNEL_NAME` resolve to this interpreter while the context is open."""
    global _kernel_users, _kernel_tmp, _saved_jupyter_path
    with _kernel_lock:
        if _kernel_users == 0:
            _kernel_tmp = tempfile.TemporaryDirectory(prefix="kyodo-kernel-")
            _write_kernelspec(_kernel_tmp.name)
            _saved_jupyter_path = os.environ.get("JUPYTER_PATH")
            os.environ["JUPYTER_PATH"] = _kernel_tmp.name + (
                os.pathsep + _saved_jupyter_path if _saved_jupyter_path else "")
        _kernel_users += 1
    try:
        yield KERNEL_NAME
    finally:
        with _kernel_lock:
            _kernel_users -= 1
            if _kernel_users == 0:
                if _saved_jupyter_path is None:
                    os.environ.pop("JUPYTER_PATH", None)
                else:
                    os.environ["JUPYTER_PATH"] = _saved_jupyter_path
                if _kernel_tmp is not None:
                    _kernel_tmp.cleanup()
                _kernel_tmp = None


@dataclass(frozen=True)
class NotebookResult:
    """Outcome of one notebook run.

    Attributes
    ----------
    name
        The run's id (the notebook stem, or e.g. ``04_district-j1`` for a district run).
    ipynb
        The executed notebook (kept, with partial output, when a cell failed).
    ok
        Whether every cell ran.
    error
        ``"<ExceptionName>: <message>"`` of the failure.
    failed_cell
        Execution count of the failing cell, as Jupyter shows it (``[5]``).
    cell
        1-based position of the failing cell in the *source* notebook.
    cell_source
        First line of the failing cell's code.
    status
        ``"ok"``, ``"failed"`` (a cell raised), ``"timeout"`` or ``"error"`` (the kernel died or
        could not start).
    attempts
        Kernel starts tried.
    seconds
        Wall-clock time of the run, HTML export included.
    html
        The exported HTML page, when there is one.
    parameters
        The parameters the notebook ran with.
    """

    name: str
    ipynb: Path
    ok: bool
    error: str | None = None
    failed_cell: int | None = None
    cell: int | None = None
    cell_source: str | None = None
    status: str = "ok"
    attempts: int = 1
    seconds: float = 0.0
    html: Path | None = None
    parameters: dict = field(default_factory=dict)

    def describe(self) -> str:
        """One line for logs: ``name: ok`` or ``name: FAILED at cell 3 (`x = 1/0`): ...``."""
        if self.ok:
            return f"{self.name}: ok ({self.seconds:.1f} s)"
        where = f" at cell {self.cell}" if self.cell else ""
        where += f" (`{self.cell_source}`)" if self.cell_source else ""
        return f"{self.name}: {self.status.upper()}{where}: {self.error}"


_START_MARKERS = ("kernel died before replying to kernel_info", "address already in use",
                  "kernel didn't respond", "timed out waiting for kernel", "kernel_info")


def is_kernel_start_failure(exc: BaseException, *, cells_started: bool) -> bool:
    """Whether ``exc`` is a kernel start-up failure worth retrying.

    Only failures raised before any cell started qualify, and only of the kinds parallel
    starts produce: ``RuntimeError('Kernel died before replying to kernel_info')``, a
    ``TimeoutError`` while waiting for the kernel, a ZMQ/OS "address already in use", or a
    kernel that died during start-up.
    """
    if cells_started:
        return False
    name = type(exc).__name__
    if name == "CellTimeoutError":
        return False
    message = str(exc).lower()
    if any(m in message for m in _START_MARKERS):
        return True
    return isinstance(exc, TimeoutError | ConnectionError) or name in ("ZMQError", "DeadKernelError")


def _inspect_output(path: Path) -> tuple[bool, int | None, str | None, int | None]:
    """(any cell started, failing cell's source position, its first line, its exec count)."""
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return False, None, None, None
    started, position = False, 0
    failing: tuple[int | None, str | None, int | None] = (None, None, None)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags or "papermill-error-cell-tag" in tags:
            continue  # cells papermill added: not in the source notebook
        position += 1
        meta = cell.metadata.get("papermill", {})
        if cell.cell_type == "code" and (cell.get("execution_count") is not None
                                         or meta.get("status") in ("running", "completed", "failed")):
            started = True
        timing = cell.metadata.get("execution", {})
        # A cell that raised is marked by papermill; one cut off by a timeout or a dying kernel
        # started ("execute_input") but never got its execute reply.
        cut_off = "iopub.execute_input" in timing and "shell.execute_reply" not in timing
        if cell.cell_type == "code" and failing[0] is None and (
                meta.get("exception") or meta.get("status") in ("failed", "running") or cut_off):
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            failing = (position, first[:80], cell.get("execution_count"))
    return started, *failing


#: Kernels of this process by (kernel name, working directory, thread): the kernel of the page
#: running in that thread, and afterwards, in the process's main thread (a pool worker, whose
#: asyncio loop lives as long as the process), the kernel kept for the next page.
_kept: dict[tuple[str, str, int], object] = {}
_ENGINE = "kyodo-given-kernel"
_PREPARE = "import kyodo_analysis.reporting.kernel_state as _k; _k.prepare()"
_SAVE = "_k.save(); del _k"
_RESTORE = "import kyodo_analysis.reporting.kernel_state as _k; _k.restore()"  # resets _k too


def _in_kernel(km, code: str, timeout: float) -> None:
    """Run ``code`` in ``km``'s kernel through a client of its own; raise if it fails."""
    kc = km.blocking_client()
    kc.start_channels(hb=False)  # a short exchange: the manager says whether the kernel lives
    try:
        kc.wait_for_ready(timeout=timeout)
        reply = kc.execute_interactive(code, store_history=False, timeout=timeout,
                                       output_hook=lambda msg: None)
    finally:
        kc.stop_channels()
    content = reply["content"]
    if content.get("status") != "ok":
        raise RuntimeError(f"kernel set-up failed: {content.get('ename')}: {content.get('evalue')}")


def _drop_kernel(key: tuple[str, str, int]) -> None:
    from jupyter_core.utils import run_sync

    km = _kept.pop(key, None)
    if km is not None:
        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)  # type: ignore[attr-defined]


def _drop_all_kernels() -> None:
    for key in list(_kept):
        _drop_kernel(key)


def _page_kernel(key: tuple[str, str, int], start_timeout: int):
    """The kernel for a page: the one kept under ``key``, reset to a fresh kernel's state, or
    a new one, started with its state saved (:mod:`kyodo_analysis.reporting.kernel_state`).

    Every page, kept kernel or not, starts from the same state: the saved one, in which the
    libraries the pages use are imported and matplotlib's inline backend is active.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = _kept.get(key)
    if km is not None:
        try:
            if run_sync(km.is_alive)():  # type: ignore[attr-defined]
                _in_kernel(km, _RESTORE, start_timeout)
                return km
        except Exception:
            pass
        _drop_kernel(key)
    if not _kept:
        import atexit

        atexit.register(_drop_all_kernels)
    km = AsyncKernelManager(kernel_name=key[0])
    # as nbclient starts its kernels: IPython's history in memory, not in a shared sqlite file
    run_sync(km.start_kernel)(cwd=key[1], extra_arguments=["--HistoryManager.hist_file=:memory:"])
    _kept[key] = km
    try:
        _in_kernel(km, _PREPARE, start_timeout)
        _in_kernel(km, _SAVE, start_timeout)
    except BaseException:
        _drop_kernel(key)
        raise
    return km


def _given_kernel_engine() -> str:
    """Register (once) a papermill engine that runs a notebook on the kernel it is given and
    closes its own client's channels afterwards, leaving the kernel to its owner."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import Engine, papermill_engines

    if _ENGINE in papermill_engines._engines:
        return _ENGINE

    class GivenKernelEngine(Engine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, **kwargs):
            import logging

            kwargs.pop("input_path", None)
            client = PapermillNotebookClient(
                nb_man, kernel_name=kernel_name, startup_timeout=start_timeout,
                timeout=execution_timeout, log=logging.getLogger("papermill"),
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                **kwargs)
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register(_ENGINE, GivenKernelEngine)
    return _ENGINE


def execute_notebook(source: Path, output: Path, parameters: dict, *, cwd: Path | None = None,
                     timeout: int = 600, start_timeout: int = 60,
                     start_retries: int = 2, keep_kernel: bool = False) -> NotebookResult:
    """Run ``source`` with ``parameters`` into ``output``; failures are returned, not raised.

    Parameters
    ----------
    source, output
        Notebook to run and where to write the executed copy (written even when a cell fails,
        so its partial output is kept).
    parameters
        Injected after the cell tagged ``parameters``.
    cwd
        Working directory of the kernel (default: the notebook's folder).
    timeout
        Seconds the whole notebook may run (kernel start excluded); the cell running when
        time is up fails with ``CellTimeoutError`` and the result's status is ``"timeout"``.
    start_timeout
        Seconds to wait for the kernel to start.
    start_retries
        Extra attempts after a kernel start-up failure (see :func:`is_kernel_start_failure`).
    keep_kernel
        Keep the kernel for this process's next page (reset to its saved state in between, see
        :mod:`kyodo_analysis.reporting.kernel_state`) instead of shutting it down after this
        one; a page that fails in any way ends its kernel. Only in the process's main thread
        (elsewhere every page gets a kernel of its own).
    """
    source, output = Path(source), Path(output)
    keep_kernel = keep_kernel and threading.current_thread() is threading.main_thread()
    began = time.monotonic()
    with project_kernel() as kernel:
        key = (kernel, str(cwd or source.parent), threading.get_ident())
        if not keep_kernel:
            _drop_kernel(key)  # a page of its own: not one a kept-kernel run left behind
        try:
            return _execute_with_retries(source, output, parameters, key, timeout,
                                         start_timeout, start_retries, began)
        finally:
            if not keep_kernel:
                _drop_kernel(key)


def _execute_with_retries(source: Path, output: Path, parameters: dict,
                          key: tuple[str, str, int], timeout: int, start_timeout: int,
                          start_retries: int, began: float) -> NotebookResult:
    """:func:`execute_notebook` on the kernel(s) of ``key``, retrying kernel start failures."""
    import papermill as pm

    attempts = 0
    while True:
        attempts += 1
        deadline: list[float] = []

        def remaining(cell, deadline=deadline) -> int:
            if not deadline:
                deadline.append(time.monotonic() + timeout)
            return max(1, round(deadline[0] - time.monotonic()))

        try:
            km = _page_kernel(key, start_timeout)
            pm.execute_notebook(
                str(source), str(output), parameters=parameters, kernel_name=key[0],
                cwd=key[1], progress_bar=False, log_output=False,
                start_timeout=start_timeout, report_mode=False, timeout_func=remaining,
                engine_name=_given_kernel_engine(), km=km,
            )
        except pm.PapermillExecutionError as exc:
            _drop_kernel(key)
            _, cell, first, _ = _inspect_output(output)
            return NotebookResult(source.stem, output, False, f"{exc.ename}: {exc.evalue}",
                                  exc.exec_count, cell, first, "failed", attempts,
                                  time.monotonic() - began, parameters=dict(parameters))
        except Exception as exc:  # a kernel that dies or times out is a failed notebook too
            _drop_kernel(key)
            started, cell, first, count = _inspect_output(output)
            if attempts <= start_retries and is_kernel_start_failure(exc, cells_started=started):
                time.sleep(0.5 * attempts + random.random())
                continue
            status = "timeout" if type(exc).__name__ == "CellTimeoutError" else "error"
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if status == "timeout":
                message = f"notebook exceeded its {timeout} s limit"
            return NotebookResult(source.stem, output, False,
                                  f"{type(exc).__name__}: {message}", count, cell, first,
                                  status, attempts, time.monotonic() - began,
                                  parameters=dict(parameters))
        return NotebookResult(source.stem, output, True, status="ok", attempts=attempts,
                              seconds=time.monotonic() - began, parameters=dict(parameters))


def export_html(ipynb: Path, html: Path, *, title: str | None = None) -> Path:
    """Write ``ipynb`` as a standalone HTML page with code cells hidden, figures embedded."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        nb = nbformat.read(str(ipynb), as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read executed notebook {ipynb}: {exc}") from None
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    html.write_text(_self_contained(body), encoding="utf-8")
    return html


_REMOTE_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>\s*', re.I)
#: Wide tables scroll inside their own box; the page itself never scrolls sideways.
_PAGE_CSS = ("<style>.jp-RenderedHTMLCommon table{display:block;max-width:100%;overflow-x:auto}"
             ".jp-RenderedImage img{max-width:100%;height:auto}</style>")


#: The template's own inline scripts (MathJax configuration, the Mermaid loader): the pages
#: use neither, and the Content-Security-Policy would refuse them.
_TEMPLATE_SCRIPT = re.compile(
    r'<script type="text/x-mathjax-config">.*?</script>\s*'
    r'|<script type="module">(?:(?!</script>).)*?mermaid.*?</script>\s*', re.S)


def _self_contained(page: str) -> str:
    """A report page that works offline: no scripts from CDNs (the pages use neither
    widgets nor MathJax), no script at all (a Content-Security-Policy says so), and no
    horizontal page scroll."""
    from kyodo_analysis.views.page import csp_meta

    page = _TEMPLATE_SCRIPT.sub("", _REMOTE_SCRIPT.sub("", page))
    page = re.sub(r"<head>", lambda m: "<head>\n" + csp_meta(), page, count=1)
    return page.replace("</head>", _PAGE_CSS + "\n</head>", 1)


@dataclass(frozen=True)
class NotebookJob:
    """Everything a worker needs to run one notebook of a report set (picklable).

    ``parameters`` are injected as they are; ``output_dir`` among them is where the notebook
    publishes its tables. ``keep_kernel``: run on the worker's kept kernel, reset between
    pages (see :func:`execute_notebook`), rather than a kernel of its own.
    """

    id: str
    source: Path
    output: Path
    html: Path
    title: str
    parameters: dict
    cwd: Path
    timeout: int = 600
    start_retries: int = 2
    keep_kernel: bool = True


def run_job(job: NotebookJob) -> NotebookResult:
    """Run one job: execute, then export HTML (also for a failed run, to show its error).

    Off the main thread (e.g. in a dask worker's thread pool, whose threads may carry an event
    loop of their own) the job runs in a fresh thread with its own asyncio event loop, since
    nbclient drives the kernel with asyncio.
    """
    if threading.current_thread() is threading.main_thread():
        return _run_job(job)
    box: list = []

    def target() -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            box.append(_run_job(job))
        except BaseException as exc:  # handed back to the calling thread
            box.append(exc)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    worker = threading.Thread(target=target, name=f"kyodo-{job.id}")
    worker.start()
    worker.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _run_job(job: NotebookJob) -> NotebookResult:
    began = time.monotonic()
    Path(job.parameters.get("output_dir") or job.output.parent).mkdir(parents=True, exist_ok=True)
    result = execute_notebook(job.source, job.output, job.parameters, cwd=job.cwd,
                              timeout=job.timeout, start_retries=job.start_retries,
                              keep_kernel=job.keep_kernel)
    html = None
    if job.output.is_file():
        try:
            html = export_html(job.output, job.html, title=job.title)
        except Exception as exc:
            if result.ok:
                result = NotebookResult(job.id, job.output, False, f"HTML export failed: {exc}",
                                        status="error", parameters=dict(job.parameters))
    return NotebookResult(job.id, job.output, result.ok, result.error, result.failed_cell,
                          result.cell, result.cell_source, result.status, result.attempts,
                          time.monotonic() - began, html, dict(job.parameters))
