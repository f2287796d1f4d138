"""A partner's read-only view of a study bundle: the same :class:`~kyodo_analysis.study.Study`
API (``design()``, ``load_wave()``, districts, attributes, codebook), with the anonymised
microdata read from the bundle instead of the city's store.

>>> import kyodo_analysis as ka
>>> s = ka.open_bundle("handa-demo-FY2025.zip")          # doctest: +SKIP
>>> s.design(2025).mean("q1", na_rm=True)               # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kyodo_analysis.errors import ConfigError, KyodoError
from kyodo_analysis.study import Study
from kyodo_analysis.views.excel import csv_unsafe

__all__ = ["BUNDLE_FILE", "BundleError", "BundleStudy", "bundle_root", "open_bundle",
           "read_design_columns", "read_microdata", "safe_extract"]

#: The marker (and description) at the root of every bundle.
BUNDLE_FILE = "bundle.json"
#: Columns of the microdata files besides the codebook's.
WEIGHT_COLUMN = "weight"
FPC_COLUMN = "fpc"


class BundleError(KyodoError):
    """A bundle is malformed, tampered with, or asked for something it does not hold."""


def bundle_root(path: str | Path) -> Path | None:
    """The bundle folder holding ``path`` (the folder itself, its ``bundle.json`` or its
    ``study/study.yaml``), or ``None`` when ``path`` is not inside a bundle."""
    p = Path(path)
    for candidate in (p, p.parent, p.parent.parent):
        if candidate.is_dir() and (candidate / BUNDLE_FILE).is_file():
            return candidate
    return None


def read_description(root: Path) -> dict:
    try:
        return json.loads((root / BUNDLE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{root / BUNDLE_FILE} is not readable JSON: {exc}") from None


def read_microdata(path: Path, codebook) -> pd.DataFrame:
    """A wave's anonymised microdata in the dtypes :meth:`Study.load_wave` returns (the
    ``weight`` and ``fpc`` columns are left out: see :func:`read_design_columns`)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    out: dict[str, pd.Series] = {"id": raw["id"].astype("string")}
    for q in codebook:
        for col in (q.option_ids if q.is_multiple else [q.id]):
            values = raw[col] if col in raw.columns else pd.Series([""] * len(raw))
            if q.type == "text":  # written through csv_safe: its ' prefix removed again
                out[col] = values.map(csv_unsafe).astype("string").fillna("")
            elif q.type == "numeric":
                out[col] = pd.to_numeric(values.replace("", None)).astype("Float64")
            elif q.type == "date":
                out[col] = pd.to_datetime(values.map(_date_start), errors="coerce").astype(
                    "datetime64[ns]")
            else:
                out[col] = pd.to_numeric(values.replace("", None)).astype("Float64").astype("Int64")
    return pd.DataFrame(out)


def read_design_columns(path: Path) -> pd.DataFrame:
    """The ``weight`` (final weight of the city's design) and ``fpc`` (frame size of the
    stratum) columns of a wave's microdata file, by row key."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    cols = [c for c in (WEIGHT_COLUMN, FPC_COLUMN) if c in raw.columns]
    out = raw[cols].replace("", None).apply(pd.to_numeric).astype(float)
    out.index = pd.Index(raw["id"], name="id")
    return out


def _date_start(value: str) -> str | None:
    """A coarsened date as a timestamp: ``2025-06`` -> 2025-06-01; ``FY2025`` -> 2025-04-01."""
    if not value:
        return None
    if value.startswith("FY"):
        return f"{int(value[2:])}-04-01"
    return f"{value}-01"


@dataclass(frozen=True)
class BundleStudy(Study):
    """A study opened from a bundle: read-only, microdata from ``study/data/``."""

    @property
    def bundle(self) -> Path:
        root = bundle_root(self.path)
        if root is None:  # pragma: no cover - constructed only by open_bundle
            raise BundleError(f"{self.path} is not inside a bundle")
        return root

    @property
    def description(self) -> dict:
        return read_description(self.bundle)

    def _wave_file(self, fiscal_year: int) -> Path:
        return self.wave(fiscal_year).file

    def load_wave(self, fiscal_year: int, *, store_path=None) -> pd.DataFrame:
        return read_microdata(self._wave_file(fiscal_year), self.codebook)

    def _data_stamp(self, fiscal_year: int) -> tuple[int, int] | None:
        stat = self._wave_file(fiscal_year).stat()
        return stat.st_mtime_ns, stat.st_size

    def final_weights(self, fiscal_year: int):
        """The final weights of the city's design for the wave, as shipped in the bundle."""
        return read_design_columns(self._wave_file(fiscal_year))[WEIGHT_COLUMN].to_numpy()

    def read_wave(self, fiscal_year: int, *, strict: bool = False):
        raise BundleError("a bundle holds anonymised microdata, not raw files: use "
                          "load_wave() or design()")

    def import_waves(self, store_path=None, *, replace: bool = False):
        raise BundleError("a bundle is read-only: nothing is imported")

    def ensure_imported(self) -> None:
        """Nothing to import: the microdata are read from the bundle."""
        for w in self.waves:
            if not w.file.is_file():
                raise BundleError(f"the bundle lacks the microdata of FY{w.fiscal_year}: {w.file}")

    @property
    def store_path(self) -> Path:
        raise BundleError("a bundle has no store: its microdata are in study/data/")


def safe_extract(archive: Path, target: Path) -> Path:
    """Unpack ``archive`` into ``target`` refusing absolute paths, ``..`` and links, so nothing
    is written outside ``target``; returns the bundle folder."""
    target = Path(target).resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{archive} is not a readable zip file: {exc}") from None
    with zf:
        for info in zf.infolist():
            name = info.filename
            dest = (target / name).resolve()
            if name.startswith(("/", "\\")) or ".." in Path(name).parts or not (
                    dest == target or target in dest.parents):
                raise BundleError(f"{archive}: member {name!r} would be written outside the folder")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError(f"{archive}: member {name!r} is a symbolic link")
        zf.extractall(target)
    root = bundle_root(target)
    if root is None:
        subs = [p for p in target.iterdir() if p.is_dir() and (p / BUNDLE_FILE).is_file()]
        if len(subs) != 1:
            raise BundleError(f"{archive} is not a study bundle (no {BUNDLE_FILE})")
        root = subs[0]
    return root


def open_bundle(path: str | Path, *, verify: bool = True, extract_to: str | Path | None = None
                ) -> BundleStudy:
    """Open a bundle (a ``.zip`` or its unpacked folder) as a read-only :class:`BundleStudy`.

    With ``verify`` every file's sha256 is checked against ``datapackage.json`` first. A zip
    is unpacked into ``extract_to`` (default: a new temporary folder).
    """
    from kyodo_analysis.bundle.package import verify_bundle

    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        folder = Path(extract_to) if extract_to else Path(tempfile.mkdtemp(prefix="kyodo-bundle-"))
        root = safe_extract(path, folder)
    else:
        root = bundle_root(path)
        if root is None:
            raise BundleError(f"{path} is not a study bundle (no {BUNDLE_FILE})")
    if verify:
        verify_bundle(root)
    desc = read_description(root)
    study_file = root / desc.get("study_file", "study/study.yaml")
    from kyodo_analysis.config import load_study_config

    try:
        study = BundleStudy(path=study_file, settings=load_study_config(study_file))
        study.check()
    except ConfigError as exc:
        raise BundleError(f"the bundle's study.yaml is not valid: {exc}") from None
    return study
