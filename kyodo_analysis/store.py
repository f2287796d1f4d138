"""The DuckDB warehouse: one file holding waves, responses, quarantine, series and provenance.

Every import is one transaction: the wave's responses, its quarantine and the provenance record
are written together or not at all, so an error or a killed process leaves the store as it was.
Importing the same file again changes nothing; replacing a wave that holds other data needs
``replace=True``. Analysts can read the file with plain SQL::

    duckdb data/kyodo.duckdb "SELECT fiscal_year, count(*) FROM responses GROUP BY 1"
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.errors import InputError, KyodoError, StoreBusyError
from kyodo_analysis.io.validate import ValidationResult

__all__ = ["ImportOutcome", "Store", "file_sha256"]

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS import_seq;
CREATE TABLE IF NOT EXISTS imports (
    import_id BIGINT PRIMARY KEY, study VARCHAR NOT NULL, fiscal_year INTEGER NOT NULL,
    file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, size_bytes BIGINT NOT NULL,
    encoding VARCHAR, codebook_sha256 VARCHAR NOT NULL, imported_at TIMESTAMP NOT NULL,
    n_read INTEGER NOT NULL, n_accepted INTEGER NOT NULL, n_quarantined INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS waves (
    study VARCHAR NOT NULL, fiscal_year INTEGER NOT NULL, import_id BIGINT NOT NULL,
    PRIMARY KEY (study, fiscal_year));
CREATE TABLE IF NOT EXISTS responses (
    study VARCHAR NOT NULL, fiscal_year INTEGER NOT NULL, import_id BIGINT NOT NULL,
    source_row INTEGER NOT NULL, id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    import_id BIGINT NOT NULL, file VARCHAR, "row" INTEGER, "column" VARCHAR, value VARCHAR,
    rule VARCHAR, message VARCHAR);
CREATE TABLE IF NOT EXISTS quarantined_rows (
    import_id BIGINT NOT NULL, source_row INTEGER NOT NULL, record JSON);
CREATE TABLE IF NOT EXISTS activity (
    study VARCHAR NOT NULL, series VARCHAR NOT NULL, domain VARCHAR NOT NULL,
    fiscal_year INTEGER NOT NULL, value DOUBLE, PRIMARY KEY (study, series, domain, fiscal_year));
CREATE TABLE IF NOT EXISTS population (
    study VARCHAR NOT NULL, cell JSON NOT NULL, count DOUBLE NOT NULL);
ALTER TABLE imports ADD COLUMN IF NOT EXISTS sampling_list_name VARCHAR;
ALTER TABLE imports ADD COLUMN IF NOT EXISTS sampling_list_sha256 VARCHAR;
"""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did: ``status`` is "imported", "replaced" or "unchanged"."""

    status: str
    import_id: int
    fiscal_year: int
    read: int
    accepted: int
    quarantined: int


class Store:
    """A DuckDB warehouse file. Open it for reading or writing; close it (or use ``with``)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise KyodoError(f"store not found: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # No progress bar: unattended runs write logs, not terminal animations.
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            if "lock" in str(exc).lower():
                raise StoreBusyError(f"the store {self.path} is in use by another process "
                                     "(an import or a report): try again when it has finished"
                                     ) from None
            raise KyodoError(f"cannot open store {self.path}: {exc}") from None
        try:
            self.con.execute("SET enable_progress_bar = false")
        except duckdb.Error:
            pass  # inside Jupyter DuckDB refuses the setting without ipywidgets; no bar shows
        if not read_only:
            self.con.execute(_SCHEMA)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all (also on KeyboardInterrupt)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    @contextlib.contextmanager
    def _register(self, name: str, frame: object) -> Iterator[None]:
        """Expose a DataFrame or Arrow table to SQL as ``name`` for the duration of a block."""
        self.con.register(name, frame)
        try:
            yield
        finally:
            self.con.unregister(name)

    # ------------------------------------------------------------------ imports

    def import_wave(self, result: ValidationResult, *, study: str, fiscal_year: int,
                    codebook: Codebook, replace: bool = False) -> ImportOutcome:
        """Store a validated wave, its quarantine and provenance in one transaction.

        The provenance record holds the file's and the codebook's SHA-256 and, when the wave
        was joined to a sampling list, the list's name and SHA-256; an import is "unchanged"
        only if all of them are.
        """
        path = Path(result.file)
        digest = file_sha256(path)
        current = self.con.execute(
            "SELECT i.import_id, i.sha256, i.codebook_sha256, i.sampling_list_sha256, "
            "i.n_read, i.n_accepted, i.n_quarantined FROM waves w JOIN imports i "
            "USING (import_id) WHERE w.study = ? AND w.fiscal_year = ?",
            [study, fiscal_year]).fetchone()
        if current is not None:
            same = (current[1] == digest and current[2] == codebook.sha256
                    and current[3] == result.sampling_list_sha256)
            if same:
                return ImportOutcome("unchanged", current[0], fiscal_year, *current[4:])
            if not replace:
                raise InputError(f"wave FY{fiscal_year} of study {study!r} already holds another "
                                 "import; pass --replace to replace it", file=str(path))
        with self._transaction():
            import_id = self.con.execute("SELECT nextval('import_seq')").fetchone()[0]
            self.con.execute(
                "INSERT INTO imports (import_id, study, fiscal_year, file_name, sha256, "
                "size_bytes, encoding, codebook_sha256, imported_at, n_read, n_accepted, "
                "n_quarantined, sampling_list_name, sampling_list_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, study, fiscal_year, path.name, digest, path.stat().st_size,
                 result.encoding, codebook.sha256, dt.datetime.now(dt.UTC).replace(tzinfo=None),
                 result.read, result.n_accepted, result.n_quarantined,
                 Path(result.sampling_list).name if result.sampling_list else None,
                 result.sampling_list_sha256])
            if current is not None:
                self.con.execute("DELETE FROM responses WHERE study = ? AND fiscal_year = ?",
                                 [study, fiscal_year])
                self.con.execute("DELETE FROM waves WHERE study = ? AND fiscal_year = ?",
                                 [study, fiscal_year])
            self._insert_responses(result.accepted, study, fiscal_year, import_id)
            self._insert_quarantine(result, import_id)
            self.con.execute("INSERT INTO waves VALUES (?, ?, ?)", [study, fiscal_year, import_id])
        return ImportOutcome("replaced" if current is not None else "imported", import_id,
                             fiscal_year, result.read, result.n_accepted, result.n_quarantined)

    def _ensure_columns(self, frame: pd.DataFrame) -> None:
        existing = {r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'responses'"
        ).fetchall()}
        for col, dtype in frame.dtypes.items():
            if col in existing or col in {"_row", "id"}:
                continue
            sql_type = ("VARCHAR" if str(dtype) == "string"
                        else "DOUBLE" if str(dtype) == "Float64"
                        else "DATE" if pd.api.types.is_datetime64_any_dtype(dtype)
                        else "INTEGER")
            self.con.execute(f'ALTER TABLE responses ADD COLUMN "{col}" {sql_type}')

    def _insert_responses(self, accepted: pd.DataFrame, study: str, fiscal_year: int,
                          import_id: int) -> None:
        self._ensure_columns(accepted)
        import pyarrow as pa

        frame = accepted.rename(columns={"_row": "source_row"})
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        # Through Arrow, DuckDB scans the columns without a Python object per cell.
        with self._register("_incoming", pa.Table.from_pandas(frame, preserve_index=False)):
            self.con.execute(
                f"INSERT INTO responses (study, fiscal_year, import_id, {cols}) "
                f"SELECT ?, ?, ?, {cols} FROM _incoming", [study, fiscal_year, import_id])

    def _insert_quarantine(self, result: ValidationResult, import_id: int) -> None:
        if result.n_quarantined == 0:
            return
        q = result.quarantine.assign(import_id=import_id)[["import_id", "file", "row", "column",
                                                           "value", "rule", "message"]]
        with self._register("_q", q):
            self.con.execute("INSERT INTO quarantine SELECT * FROM _q")
        rows = result.quarantined_rows
        cells = rows.drop(columns="_row")
        # Every raw cell as text (blank cells as null), one JSON object per row.
        records = cells.astype(object).where(cells.notna(), None).map(
            lambda v: None if v is None else str(v))
        recs = pd.DataFrame({
            "import_id": import_id,
            "source_row": rows["_row"].astype(int),
            "record": records.to_json(orient="records", force_ascii=False, lines=True).splitlines(),
        })
        with self._register("_qr", recs):
            self.con.execute("INSERT INTO quarantined_rows SELECT * FROM _qr")

    def load_series(self, table: pd.DataFrame, *, study: str, domain_column: str | None = None,
                    year_column: str = "fiscal_year") -> int:
        """Replace a study's activity series by a long table (series, [domain], year, value)."""
        from kyodo_analysis.calendar import parse_fiscal_year

        frame = pd.DataFrame({
            "study": study,
            "series": table["series"].astype(str),
            "domain": table[domain_column].astype(str) if domain_column else "市全体",
            "fiscal_year": table[year_column].map(parse_fiscal_year).astype(int),
            "value": pd.to_numeric(table["value"]).astype(float),
        })
        with self._transaction(), self._register("_s", frame):
            self.con.execute("DELETE FROM activity WHERE study = ? AND (series, domain) IN "
                             "(SELECT series, domain FROM _s)", [study])
            self.con.execute("INSERT INTO activity SELECT * FROM _s")
        return len(frame)

    def load_population(self, table: pd.DataFrame, *, study: str, count_column: str) -> int:
        """Replace a study's population margins: one row per cell (the other columns as a JSON
        object, e.g. {"中学校区": "青山", "性別": "男性", "年代": "18～29歳"}) and its count."""
        cells = table.drop(columns=count_column)
        frame = pd.DataFrame({
            "study": study,
            "cell": cells.apply(lambda r: r.astype(str).to_json(force_ascii=False), axis=1),
            "count": pd.to_numeric(table[count_column]).astype(float),
        })
        with self._transaction(), self._register("_p", frame):
            self.con.execute("DELETE FROM population WHERE study = ?", [study])
            self.con.execute("INSERT INTO population SELECT * FROM _p")
        return len(frame)

    # ------------------------------------------------------------------ reading

    def load_wave(self, study: str, fiscal_year: int, codebook: Codebook) -> pd.DataFrame:
        """One wave's accepted responses in the codebook's canonical columns.

        Codes come back as nullable integers (``Int64``), id and free text as strings, dates
        as ``datetime64[ns]`` (NaT for missing), in the order the rows had in the source file.
        Derived variables (``derived:`` in the codebook) are columns like questions.
        """
        if not self.has_wave(study, fiscal_year):
            raise KyodoError(f"the store {self.path} has no wave FY{fiscal_year} of study "
                             f"{study!r}; import it first (kyodo import ... --wave FY{fiscal_year})")
        frame = self.con.execute(
            "SELECT * EXCLUDE (study, fiscal_year, import_id) FROM responses "
            "WHERE study = ? AND fiscal_year = ? ORDER BY source_row", [study, fiscal_year]).df()
        out = {"id": frame["id"].astype("string")}
        for q in codebook:
            for col in (q.option_ids if q.is_multiple else [q.id]):
                if q.type == "text":
                    out[col] = frame[col].astype("string").fillna("")
                elif q.type == "numeric":
                    out[col] = frame[col].astype("Float64")
                elif q.type == "date":
                    out[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
                else:
                    out[col] = frame[col].astype("Float64").astype("Int64")
        return pd.DataFrame(out)

    def wave_sources(self, study: str) -> dict[int, tuple[str, str, str | None]]:
        """For each imported wave of ``study``: the sha256 of its file, of its codebook and of
        its sampling list (``None`` without one)."""
        rows = self.con.execute(
            "SELECT w.fiscal_year, i.sha256, i.codebook_sha256, i.sampling_list_sha256 FROM waves w "
            "JOIN imports i USING (import_id) WHERE w.study = ?", [study]).fetchall()
        return {fy: (sha, cb, sl) for fy, sha, cb, sl in rows}

    def wave_imports(self, study: str) -> dict[int, int]:
        """For each imported wave of ``study``: the id of the import that holds its rows."""
        rows = self.con.execute("SELECT fiscal_year, import_id FROM waves WHERE study = ? "
                                "ORDER BY fiscal_year", [study]).fetchall()
        return {int(fy): int(i) for fy, i in rows}

    def has_wave(self, study: str, fiscal_year: int) -> bool:
        return self.con.execute("SELECT count(*) FROM waves WHERE study = ? AND fiscal_year = ?",
                                [study, fiscal_year]).fetchone()[0] > 0

    def quarantine(self, study: str | None = None, fiscal_year: int | None = None) -> pd.DataFrame:
        sql = ("SELECT i.study, i.fiscal_year, q.* EXCLUDE (import_id) FROM quarantine q "
               "JOIN imports i USING (import_id) JOIN waves w USING (import_id) WHERE true")
        args = []
        if study is not None:
            sql += " AND i.study = ?"
            args.append(study)
        if fiscal_year is not None:
            sql += " AND i.fiscal_year = ?"
            args.append(fiscal_year)
        return self.con.execute(sql + " ORDER BY i.fiscal_year, q.row", args).df()

    def status(self) -> pd.DataFrame:
        """Waves in the store with their counts and provenance."""
        return self.con.execute(
            "SELECT w.study, w.fiscal_year, i.file_name, i.n_read, i.n_accepted, "
            "i.n_quarantined, i.encoding, left(i.sha256, 12) AS sha256, i.imported_at "
            "FROM waves w JOIN imports i USING (import_id) ORDER BY w.study, w.fiscal_year").df()

    def population_status(self) -> pd.DataFrame:
        return self.con.execute("SELECT study, count(*) AS cells, sum(count) AS total "
                                "FROM population GROUP BY ALL ORDER BY ALL").df()

    def series_status(self) -> pd.DataFrame:
        return self.con.execute(
            "SELECT study, series, count(DISTINCT domain) AS domains, min(fiscal_year) AS first, "
            "max(fiscal_year) AS last, count(*) AS n FROM activity GROUP BY ALL ORDER BY ALL").df()
