"""Helpers shared by the report-suite tests (not a test module)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"

# Subprocesses the tests start (the kyodo CLI, the papermill CLI, Jupyter kernels) must import
# this checkout's package, not the one a shared virtualenv's editable install points at
# (e.g. a git worktree tested with the main checkout's .venv). Set once, when pytest collects
# the modules importing this helper, i.e. before any test runs.
if str(ROOT) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))


def small_study(demo_dir: Path, dest: Path, *, pages: dict | None = None,
                notebooks: list[dict] | None = None) -> Path:
    """Copy the demo study to ``dest`` with district pages for fewer districts (``pages``:
    level -> districts; default 亀崎 and its 有脇), and optionally its own notebook list, so
    report runs stay quick; returns the new study.yaml."""
    shutil.copytree(demo_dir, dest)
    path = dest / "study.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    pages = pages if pages is not None else {"中学校区": ["亀崎"], "小学校区": ["有脇"]}
    for level in doc["districts"]:
        level["pages"] = pages.get(level["name"], False)
    if notebooks is not None:
        doc["report"] = {"notebooks": notebooks}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def notebook_dir(dest: Path, *names: str, copies: dict[str, str] | None = None) -> Path:
    """A folder holding fixture notebooks ``names`` (and ``copies``: new name -> fixture)."""
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        shutil.copy(FIXTURE_NOTEBOOKS / f"{n}.ipynb", dest / f"{n}.ipynb")
    for new, src in (copies or {}).items():
        shutil.copy(FIXTURE_NOTEBOOKS / f"{src}.ipynb", dest / f"{new}.ipynb")
    return dest


def kyodo(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run this worktree's ``kyodo`` command (not whatever the venv's console script imports)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    return subprocess.run([sys.executable, "-m", "kyodo_analysis.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)
