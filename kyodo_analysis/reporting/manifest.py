"""A report run's provenance (``manifest.json``) and the check that inputs are unchanged.

The manifest records every input file of the study with its sha256 and size, the study
configuration, each notebook's parameters and status, the versions of the packages that shaped
the numbers, the Python version, the git commit (and whether the checkout was dirty), start and
end times, and a digest of every published table, so ``kyodo reproduce`` can rerun the same
notebooks and say whether every table came out identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from kyodo_analysis.errors import ReportError

__all__ = [
    "MANIFEST_VERSION",
    "PACKAGES",
    "InputFile",
    "git_state",
    "input_files",
    "load_manifest",
    "package_versions",
    "sha256_file",
    "verify_inputs",
]

MANIFEST_VERSION = 1
#: Packages whose versions are recorded (those missing are recorded as ``null``).
PACKAGES = ("kyodo_analysis", "pandas", "numpy", "scipy", "statsmodels", "matplotlib",
            "matplotlib-fontja", "papermill", "nbclient", "nbconvert", "ipykernel", "openpyxl",
            "pyreadstat", "duckdb", "pyyaml", "tqdm", "dask", "distributed")


@dataclass(frozen=True)
class InputFile:
    """One input of a study: path as written in study.yaml (relative) and its fingerprint."""

    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _paths_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [p for v in value.values() for p in _paths_in(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in _paths_in(v)]
    return []


def input_files(study) -> list[InputFile]:
    """study.yaml and every file it names (codebook, waves, population, activity, ...).

    Any string in study.yaml that names an existing file relative to the study folder counts,
    so files added to the configuration later are covered without changing this function.
    """
    root = study.root
    seen: dict[str, Path] = {study.path.name: study.path}
    for value in _paths_in(study.settings.model_dump(mode="json")):
        if "\n" in value or len(value) > 300:
            continue
        candidate = root / value
        try:
            if candidate.is_file():
                seen.setdefault(Path(value).as_posix(), candidate)
        except OSError:
            continue
    return [InputFile(rel, sha256_file(p), p.stat().st_size) for rel, p in sorted(seen.items())]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(directory: Path) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ``directory``."""
    try:
        commit = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=20)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(directory), "status", "--porcelain",
                                 "--untracked-files=no"], capture_output=True, text=True, timeout=20)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def environment() -> dict:
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "platform": platform.platform(),
            "packages": package_versions()}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def load_manifest(path: Path) -> dict:
    """Read a ``manifest.json``; a missing or malformed file raises :class:`ReportError`."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"manifest not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"manifest is not readable JSON: {path}: {exc}") from None
    for key in ("study", "inputs", "notebooks", "fiscal_year"):
        if key not in doc:
            raise ReportError(f"manifest {path} lacks {key!r}")
    return doc


def verify_inputs(manifest: Mapping) -> Path:
    """Check every input's sha256 against the manifest; return the study.yaml path.

    Raises
    ------
    ReportError
        Naming the first file that is missing or changed.
    """
    root = Path(manifest["study"]["root"])
    for item in manifest["inputs"]:
        path = root / item["path"]
        if not path.is_file():
            raise ReportError(f"input missing since the run: {path}")
        if path.stat().st_size != item["size"] or sha256_file(path) != item["sha256"]:
            raise ReportError(f"input changed since the run: {path} (sha256 differs from the manifest)")
    return root / manifest["study"]["file"]
