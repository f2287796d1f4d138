"""Execute one parameterised notebook with papermill and export it to HTML.

Notebooks always run on the interpreter that runs kyodo_analysis (the project's ``.venv``),
whatever kernelspecs the user has installed elsewhere: a private kernelspec pointing at
``sys.executable`` is written to a temporary Jupyter data directory that is put first on
``JUPYTER_PATH`` for the duration of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kyodo_analysis.errors import ReportError

__all__ = ["KERNEL_NAME", "NotebookResult", "execute_notebook", "export_html", "project_kernel"]

KERNEL_NAME = "kyodo-project-python"


@contextlib.contextmanager
def project_kernel() -> Iterator[str]:
    """Make :data:`KERNEL_NAME` resolve to this interpreter while the context is open."""
    with tempfile.TemporaryDirectory(prefix="kyodo-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {
            # Kernel-side log noise (e.g. ipykernel's notice about TCP transport) stays out of
            # unattended runs' logs; errors in notebook cells still reach the outputs.
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "kyodo_analysis (project interpreter)",
            "language": "python",
            "metadata": {"debugger": False},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = tmp + (os.pathsep + old if old else "")
        try:
            yield KERNEL_NAME
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


@dataclass(frozen=True)
class NotebookResult:
    """Outcome of one notebook run."""

    name: str
    ipynb: Path
    ok: bool
    error: str | None = None
    failed_cell: int | None = None


def execute_notebook(source: Path, output: Path, parameters: dict, *, cwd: Path | None = None,
                     timeout: int = 600) -> NotebookResult:
    """Run ``source`` with ``parameters`` into ``output``; failures are returned, not raised.

    The executed notebook is written even when a cell fails, so its partial output is kept.
    """
    import papermill as pm

    source, output = Path(source), Path(output)
    with project_kernel() as kernel:
        try:
            pm.execute_notebook(
                str(source), str(output), parameters=parameters, kernel_name=kernel,
                cwd=str(cwd or source.parent), progress_bar=False, log_output=False,
                execution_timeout=timeout, report_mode=False,
            )
        except pm.PapermillExecutionError as exc:
            return NotebookResult(source.stem, output, False,
                                  f"{exc.ename}: {exc.evalue}", exc.exec_count)
        except Exception as exc:  # a kernel that dies or times out is a failed notebook too
            return NotebookResult(source.stem, output, False, f"{type(exc).__name__}: {exc}")
    return NotebookResult(source.stem, output, True)


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
    html.write_text(body, encoding="utf-8")
    return html
