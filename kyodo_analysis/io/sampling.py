"""The sampling list (発送名簿): who was sent the questionnaire, with register attributes.

A city draws its sample from the resident register and keeps the list of the people it mailed,
each with a serial number (整理番号, printed on the questionnaire) and register attributes
(中学校区, 性別, 年齢 ...). Joining that list to the returned answers by the serial number
gives every respondent their register attributes without typing them into the response file.

Layout (``study.yaml``)::

    sampling_list:
      id_column: 整理番号
      columns: {中学校区: stratum, 性別: reg_sex, 年齢: reg_age_years}
    waves:
      - {fiscal_year: 2024, file: r6.xlsx, sampling_list: 発送名簿_R6.xlsx}

A wave's ``sampling_list`` is a path, or a mapping with ``file`` and any layout key to override.
The list's values go through the codebook like survey cells (labels, aliases, full-width
digits); a list that cannot be trusted (no id column, a blank or repeated id, a value that is no
code of its question) raises :class:`~kyodo_analysis.errors.InputError` naming file, row, column
and value, and nothing is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import ConfigError, InputError
from kyodo_analysis.io.normalise import normalise_cell, normalise_strings
from kyodo_analysis.io.readers import read_table

__all__ = ["SamplingList", "read_sampling_list", "sampling_list_spec"]

_KINDS = {"design": "code", "demographic": "code", "single": "code", "likert": "code",
          "numeric": "number"}


def _id_key(ids: np.ndarray) -> np.ndarray:
    """Ids as they are matched: normalised, and all-digit ids without leading zeros (Excel
    drops them: 「000123」 in the list is 123 in a sheet)."""
    return np.array([str(int(v)) if v.isdigit() else v for v in ids], dtype=object)


@dataclass(frozen=True)
class SamplingList:
    """A wave's sampling list, read and checked.

    Attributes
    ----------
    file, sha256
        The list file and the SHA-256 of its bytes (provenance).
    id_column
        The list's id column (matched to the response id).
    columns
        List column -> codebook question id.
    values
        Question id -> codes (float, NaN = blank) in list order.
    ids
        The list's ids as matched (see :meth:`positions`).
    """

    file: str
    sha256: str
    id_column: str
    columns: dict[str, str]
    values: dict[str, np.ndarray] = field(repr=False)
    ids: np.ndarray = field(repr=False)

    @property
    def name(self) -> str:
        return Path(self.file).name

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, response_ids: np.ndarray) -> np.ndarray:
        """Row position in the list of each (normalised) response id; -1 if not on it."""
        index = pd.Index(self.ids)
        return index.get_indexer(_id_key(np.asarray(response_ids, dtype=object)))


def read_sampling_list(path: str | Path, codebook: Codebook, *, id_column: str,
                       columns: Mapping[str, str], sheet: str | int | None = None,
                       encoding: str | None = None,
                       header_row: int | None = None) -> SamplingList:
    """Read a sampling list and map its columns through ``codebook``.

    Parameters
    ----------
    path
        CSV or Excel file (whatever :func:`~kyodo_analysis.io.readers.read_table` reads).
    codebook
        The survey's codebook; every target of ``columns`` is a design, demographic, coded or
        numeric question of it.
    id_column
        The list's id column (整理番号).
    columns
        List column -> question id, e.g. ``{"中学校区": "stratum", "年齢": "reg_age_years"}``.

    Raises
    ------
    ConfigError
        ``columns`` names no question, or a question that cannot come from a list.
    InputError
        The file cannot be read, lacks a column, or has a blank or repeated id or a value
        that is not a code of its question.
    """
    from kyodo_analysis.io.validate import parse_column
    from kyodo_analysis.store import file_sha256

    columns = {str(k): str(v) for k, v in dict(columns).items()}
    if not columns:
        raise ConfigError("a sampling list needs at least one column: {list column: question}",
                          key="sampling_list.columns")
    for list_col, qid in columns.items():
        if qid not in codebook:
            raise ConfigError(f"sampling list column {list_col!r} names no question {qid!r} of "
                              "the codebook", key=f"sampling_list.columns.{list_col}")
        q = codebook[qid]
        if q.type not in _KINDS or q.is_derived:
            raise ConfigError(f"question {qid!r} ({q.type}) cannot come from a sampling list",
                              key=f"sampling_list.columns.{list_col}")
    path = Path(path)
    raw = read_table(path, encoding=encoding, sheet=sheet, header_row=header_row,
                     text_columns={id_column}, known_headers={id_column, *columns})
    file = raw.file
    by_name = {normalise_cell(c).casefold(): c for c in raw.data.columns}
    found = {}
    for wanted in (id_column, *columns):
        actual = by_name.get(normalise_cell(wanted).casefold())
        if actual is None:
            raise InputError(f"sampling list has no column {wanted!r}; its columns: "
                             f"{', '.join(map(str, raw.data.columns[:8]))}", file=file,
                             column=wanted)
        found[wanted] = actual
    if len(raw.data) == 0:
        raise InputError("the sampling list has a header but no rows", file=file)
    rows = raw.row_numbers.to_numpy()
    ids = normalise_strings(raw.data[found[id_column]])
    blank = np.flatnonzero(ids == "")
    if blank.size:
        raise InputError("sampling list: a row has no id", file=file, row=int(rows[blank[0]]),
                         column=found[id_column], value="")
    keys = _id_key(ids)
    dup = pd.Series(keys).duplicated(keep=False).to_numpy()
    if dup.any():
        where = np.flatnonzero(dup)
        first = where[0]
        others = [int(rows[i]) for i in where if keys[i] == keys[first]][1:]
        raise InputError(f"sampling list: id {ids[first]!r} is repeated (also on row "
                         f"{', '.join(map(str, others))})", file=file, row=int(rows[first]),
                         column=found[id_column], value=ids[first])
    values = {}
    for list_col, qid in columns.items():
        q = codebook[qid]
        vals_u, rules_u, raw_u, codes = parse_column(raw.data[found[list_col]], q, _KINDS[q.type])
        rules_u[-1] = None  # blanks: the join reports a blank design variable per respondent
        bad = np.flatnonzero(pd.notna(rules_u[codes]))
        if bad.size:
            i = bad[0]
            raise InputError(f"sampling list: value is not valid for {qid!r} "
                             f"[{rules_u[codes[i]]}]", file=file, row=int(rows[i]),
                             column=found[list_col], value=str(raw_u[codes[i]]))
        values[qid] = vals_u[codes].astype(np.float64)
    return SamplingList(file=file, sha256=file_sha256(path), id_column=id_column,
                        columns={found[c]: q for c, q in columns.items()}, values=values,
                        ids=keys)


def sampling_list_spec(layout: object, entry: object, root: Path, *,
                       source: str | None = None) -> dict | None:
    """Keyword arguments of :func:`read_sampling_list` (with ``path``) for one wave, from the
    study's top-level ``sampling_list`` layout and the wave entry's ``sampling_list`` (a path,
    or a mapping with ``file`` and overrides); ``None`` when the wave has no list."""
    if not isinstance(entry, Mapping) or not entry.get("sampling_list"):
        return None
    wave_value = entry["sampling_list"]
    spec = dict(layout) if isinstance(layout, Mapping) else {}
    if isinstance(wave_value, Mapping):
        spec.update(wave_value)
    else:
        spec["file"] = wave_value
    key = "sampling_list"
    for needed in ("file", "id_column", "columns"):
        if not spec.get(needed):
            raise ConfigError(f"sampling list needs {needed!r} (in the top-level sampling_list "
                              "layout or the wave's entry)", file=source, key=f"{key}.{needed}")
    if not isinstance(spec["columns"], Mapping):
        raise ConfigError("sampling_list.columns must map list columns to question ids",
                          file=source, key=f"{key}.columns")
    return {"path": root / str(spec["file"]), "id_column": str(spec["id_column"]),
            "columns": dict(spec["columns"]), "sheet": spec.get("sheet"),
            "encoding": spec.get("encoding"), "header_row": spec.get("header_row")}
