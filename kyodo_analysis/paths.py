"""Where the project's own folders are (notebooks, demo data, reports)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["demo_study_file", "notebook_dir", "project_root"]


def project_root() -> Path:
    """The source checkout this package runs from; the current directory for a plain install."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


def notebook_dir() -> Path:
    return project_root() / "notebooks"


def demo_study_file() -> Path:
    return project_root() / "data" / "demo" / "study.yaml"
