"""Structured exceptions.

Every error an analyst can meet is a :class:`KyodoError`; the subclasses carry
the context needed to act on it (file, row, column, value) so that messages
never degrade into a bare traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DisclosureError",
    "EstimationError",
    "InputError",
    "KyodoError",
    "ReportError",
    "StoreBusyError",
    "WeightingError",
]


class KyodoError(Exception):
    """Base class of every error raised on purpose by kyodo_analysis."""


@dataclass(eq=False)
class InputError(KyodoError):
    """A problem with an input file: names the file and, where known, the row, column and value.

    ``row`` is counted as the user sees it in a spreadsheet (1-based, header rows included).
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message


@dataclass(eq=False)
class ConfigError(KyodoError):
    """A malformed configuration file (study.yaml, codebook.yaml, indicators.yaml)."""

    message: str
    file: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [p for p in (self.file and f"file {self.file}", self.key and f"key {self.key!r}") if p]
        return f"{self.message} ({', '.join(where)})" if where else self.message


class EstimationError(KyodoError):
    """An estimator cannot be computed as asked (missing values, lonely PSU, bad domain)."""


class WeightingError(KyodoError):
    """Weighting failed: a margin did not converge or the targets are inconsistent."""


class DisclosureError(KyodoError):
    """A table or text cannot be published under the disclosure rules."""


class StoreBusyError(KyodoError):
    """The store is locked by another process (an import or a report in progress)."""


class ReportError(KyodoError):
    """A report run failed: a notebook raised, timed out or could not be published."""
