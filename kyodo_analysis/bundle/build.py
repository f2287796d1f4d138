"""``kyodo bundle``: an anonymised, self-describing study bundle for university partners.

Layout of the zip (one folder ``<study>-FY<year>-bundle/``)::

    bundle.json                 what the bundle is: study, year, waves, anonymisation changes
    datapackage.json            Frictionless descriptor: every file with sha256 and size
    README.md                   for the partner (日本語 / English)
    study/study.yaml            the study, its waves pointing at the microdata below
    study/codebook.yaml         the codebook (recoded categories applied)
    study/data/FY<year>.csv     anonymised microdata per wave, final weight and fpc
    study/inputs/...            aggregate inputs (population, frame sizes, activity, ...)
    disclosure/risk_report.json and risk_report.md
    notebooks/*.ipynb, notebooks/parameters.json
    published/manifest.json, published/tables.json   the published run and its tables
    environment/requirements.lock, environment/environment.yml
    source/kyodo_analysis.tar.gz                      the package the run used

Anonymisation (:mod:`kyodo_analysis.bundle.sdc`): the respondent id is replaced by a random
row key and the rows are shuffled; free text is dropped (or masked, where study.yaml allows
it); dates are coarsened to year-month (or fiscal year); the codebook's quasi-identifiers are
globally recoded as study.yaml ``bundle.recode`` says and locally suppressed to k-anonymity.
Strata and weighting margins are never suppressed, so the partner's ``design()`` gives the
city's weights and standard errors.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from kyodo_analysis import paths, yamlio
from kyodo_analysis.bundle import sdc
from kyodo_analysis.bundle.package import (
    load_validator,
    microdata_schema,
    validate_package,
    validate_table,
    write_datapackage,
)
from kyodo_analysis.bundle.study import BUNDLE_FILE, FPC_COLUMN, WEIGHT_COLUMN, BundleError
from kyodo_analysis.calendar import fiscal_year_label
from kyodo_analysis.config.study import BundleConfig
from kyodo_analysis.errors import KyodoError
from kyodo_analysis.reporting import manifest as mf
from kyodo_analysis.study import Study
from kyodo_analysis.views.excel import csv_safe

__all__ = ["BundleResult", "anonymise_wave", "build_bundle", "key_variables"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class BundleResult:
    """The bundle written and its disclosure-risk summary."""

    path: Path
    risk: dict
    seconds: float


# ------------------------------------------------------------------------------------------
# which columns are what
# ------------------------------------------------------------------------------------------
def bundle_config(study: Study) -> BundleConfig:
    return getattr(study.settings, "bundle", None) or BundleConfig()


def protected_columns(study: Study) -> list[str]:
    """Design variables the weights depend on (strata, weighting margins): never suppressed."""
    design = study.settings.design
    out = []
    if design and design.strata:
        out.append(design.strata)
    if design and design.weighting:
        out += [c for c in design.weighting.margins if c not in out]
    return out


def key_variables(study: Study) -> list[str]:
    """The quasi-identifiers: codebook ``quasi_identifier: true`` and ``bundle.quasi_identifiers``."""
    cb = study.codebook
    keys = [q.id for q in cb if q.quasi_identifier]
    keys += [c for c in bundle_config(study).quasi_identifiers if c not in keys]
    return keys


def importance(study: Study, keys: list[str]) -> list[str]:
    """Key variables from most to least important (the least important is suppressed first)."""
    conf = bundle_config(study)
    if conf.importance:
        order = [c for c in conf.importance if c in keys]
    else:
        order = [c for c in protected_columns(study) if c in keys]
        order += [lv.column for lv in study.district_levels if lv.column in keys]
        order += [a.column for a in study.attributes if a.column in keys]
    return list(dict.fromkeys(order + keys))


def sensitive_items(study: Study) -> list[str]:
    cb = study.codebook
    items = [q.id for q in cb if q.sensitive and not q.is_multiple]
    return items + [c for c in bundle_config(study).sensitive if c not in items]


def recode_plan(study: Study) -> dict[str, dict[int, list[int]]]:
    """``bundle.recode`` as ``{column: {new code: [old codes]}}`` (new code = smallest merged)."""
    out: dict[str, dict[int, list[int]]] = {}
    for column, groups in bundle_config(study).recode.items():
        if column in protected_columns(study):
            raise BundleError(f"bundle.recode: {column!r} is a design variable the weights "
                              "depend on; it cannot be recoded")
        if column not in study.codebook:
            raise BundleError(f"bundle.recode: {column!r} is not a codebook question")
        codes = study.codebook[column].codes
        out[column] = {}
        for label, olds in groups.items():
            bad = [c for c in olds if c not in codes]
            if bad:
                raise BundleError(f"bundle.recode.{column}.{label}: codes {bad} are not codes "
                                  f"of {column}")
            out[column][min(olds)] = sorted(olds)
    return out


# ------------------------------------------------------------------------------------------
# one wave
# ------------------------------------------------------------------------------------------
def _risk(data: pd.DataFrame, keys: list[str], weights: np.ndarray, k: int) -> dict:
    freq = sdc.key_frequencies(data, keys, weights)
    risk = sdc.individual_risk(freq["fk"], freq["Fk"])
    return {"records": len(data), "k_violations": int((freq["fk"] < k).sum()),
            "unique_keys": int((freq["fk"] == 1).sum()),
            "risk_max": round(float(risk.max()) if len(risk) else 0.0, 6),
            "risk_mean": round(float(risk.mean()) if len(risk) else 0.0, 6),
            "expected_reidentifications": round(float(risk.sum()), 3)}


def anonymise_wave(study: Study, data: pd.DataFrame, weights: np.ndarray, *,
                   rng: np.random.Generator | None = None) -> tuple[pd.DataFrame, dict]:
    """Anonymise one wave's microdata: ``(data, report)``.

    ``data`` keeps the codebook's columns (and ``id``, now a random key), rows shuffled; the
    report holds the risk before and after, what was recoded and suppressed, l-diversity.
    """
    conf = bundle_config(study)
    cb = study.codebook
    keys = [c for c in key_variables(study) if c in data.columns]
    protected = [c for c in protected_columns(study) if c in keys]
    report: dict = {"keys": keys, "protected": protected, "k": conf.k,
                    "before": _risk(data, keys, weights, conf.k)}
    recoded, changed = sdc.global_recode(data, recode_plan(study))
    report["recoded"] = changed
    supp = sdc.local_suppression(recoded, keys, k=conf.k, importance=importance(study, keys),
                                 protected=protected)
    out = supp.data
    report["suppressed"] = {c: n for c, n in supp.suppressed.items() if n}
    recode_rows = np.zeros(len(data), dtype=bool)
    for c in changed:
        recode_rows |= (data[c].fillna(-1) != recoded[c].fillna(-1)).to_numpy()
    report["records_changed"] = int((supp.changed_rows | recode_rows).sum())
    report["after"] = _risk(out, keys, weights, conf.k)
    report.update(design_cells(data, out, weights, keys, protected, conf.k))
    report["l_diversity"] = {}
    for item in sensitive_items(study):
        if item not in data.columns:
            continue
        before = sdc.l_diversity(data, keys, item)
        after = sdc.l_diversity(out, keys, item)
        report["l_diversity"][item] = {
            "l": conf.l, "min_before": int(before.min()) if len(before) else 0,
            "min_after": int(after.min()) if len(after) else 0,
            "violations_before": int((before < conf.l).sum()),
            "violations_after": int((after < conf.l).sum())}
    # direct identifiers, free text, dates
    allowed = set(conf.free_text) if study.settings.disclosure.allow_free_text else set()
    dropped, masked, coarsened = [], [], []
    for q in cb:
        if q.type == "text" and q.id in out.columns:
            if q.id in allowed:
                from kyodo_analysis.evaluation.disclosure import mask_free_text

                names = study.settings.disclosure.mask_names
                out[q.id] = out[q.id].map(lambda t, n=names: mask_free_text(str(t), names=n)
                                          ).astype("string")
                masked.append(q.id)
            else:
                out[q.id] = pd.Series([""] * len(out), index=out.index, dtype="string")
                dropped.append(q.id)
        elif q.type == "date" and q.id in out.columns:
            out[q.id] = coarsen_dates(out[q.id], conf.dates)
            coarsened.append(q.id)
    report.update(free_text_dropped=dropped, free_text_masked=masked, dates_coarsened=coarsened,
                  dates_precision=conf.dates)
    rng = rng or np.random.default_rng(secrets.randbits(128))
    order = rng.permutation(len(out))
    out = out.iloc[order].reset_index(drop=True)
    out["id"] = pd.array([f"r{i:06d}" for i in range(1, len(out) + 1)], dtype="string")
    report["order"] = order
    return out, report


def design_cells(data: pd.DataFrame, anonymised: pd.DataFrame, weights: np.ndarray,
                 keys: list[str], protected: list[str], k: int) -> dict:
    """Records whose design cell (the never-suppressed strata and weighting margins alone) is
    rarer than ``k``: they stay k-anonymity violations. Why they cannot be protected without
    changing the published figures is measured here, for the risk report:

    * ``weight_identifies_cell``: every record of such a cell has a final weight that no
      record outside the cell has (raking and post-stratification give one weight per cell),
      so suppressing the cell's variables would hide nothing the ``weight`` column does not
      show; changing or coarsening the weight changes the published estimates;
    * the published standard errors of a weighted design use each record's weighting cell
      (calibration residuals, :meth:`kyodo_analysis.study.Study.design`), so the margins
      cannot ship as population totals alone.

    ``other_keys_suppressed``: all their other key variables are suppressed in the bundle.
    """
    if not protected:
        return {"design_cells_below_k": 0}
    freq = sdc.key_frequencies(data, protected, weights)
    below = (freq["fk"] < k).to_numpy()
    out: dict = {"design_cells_below_k": int(below.sum())}
    if not below.any():
        return out
    cell = data.groupby(protected, dropna=False, sort=False).ngroup().to_numpy()
    w = np.round(np.asarray(weights, float), 6)
    identifies = all(set(cell[w == w[i]]) == {cell[i]} for i in np.flatnonzero(below))
    others = [c for c in keys if c not in protected]
    risk = sdc.individual_risk(freq["fk"][below], freq["Fk"][below])
    out["design_cells"] = {
        "cells": len(set(cell[below])), "records": int(below.sum()),
        "sample_sizes": sorted(int(f) for f in freq["fk"][below]),
        "population_estimates": sorted(round(float(f), 1) for f in freq["Fk"][below]),
        "risk_max": round(float(risk.max()), 6),
        "other_keys_suppressed": bool(anonymised.loc[below, others].isna().all().all())
        if others else True,
        "weight_identifies_cell": bool(identifies)}
    return out


def coarsen_dates(values: pd.Series, precision: str) -> pd.Series:
    """Dates as ``YYYY-MM`` (month) or ``FY<year>`` (fiscal year, April to March)."""
    stamps = pd.to_datetime(values, errors="coerce")
    if precision == "fiscal_year":
        text = stamps.map(lambda t: f"FY{t.year if t.month >= 4 else t.year - 1}"
                          if pd.notna(t) else "")
    else:
        text = stamps.map(lambda t: f"{t.year:04d}-{t.month:02d}" if pd.notna(t) else "")
    return text.astype("string")


def _csv(data: pd.DataFrame, weights: np.ndarray, fpc: np.ndarray | None, path: Path) -> list[str]:
    frame = data.copy()
    frame[WEIGHT_COLUMN] = weights
    if fpc is not None:
        frame[FPC_COLUMN] = fpc
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):  # pragma: no cover - coarsened
            frame[col] = frame[col].dt.strftime("%Y-%m")
        if not pd.api.types.is_numeric_dtype(frame[col]):
            # text a spreadsheet would read as a formula (masked free text can begin with
            # "-" or "="): written with a leading ' as every published CSV
            frame[col] = frame[col].map(csv_safe, na_action="ignore")
    # CRLF rows (RFC 4180): a text holding a bare CR is then quoted, not split into two rows
    frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n", na_rep="")
    return list(frame.columns)


# ------------------------------------------------------------------------------------------
# information loss
# ------------------------------------------------------------------------------------------
def _indicator(data: pd.DataFrame, cb, column: str, codes: list[int]) -> pd.Series:
    missing: set[int] = set()
    if column in cb:
        missing = set(cb[column].missing)
    values = data[column]
    valid = values.notna() & ~values.isin(list(missing))
    return values.isin(codes).astype(float).where(valid)


def information_loss(study: Study, fy: int, original: pd.DataFrame, anonymised: pd.DataFrame,
                     report: dict) -> list[dict]:
    """Headline figures (study.yaml ``headline.figures``) overall and by each changed key
    variable, on the city's data and on the bundle's: estimate and SE in percent."""
    changed = sorted(set(report["suppressed"]) | {c for c, n in report["recoded"].items() if n})
    if not changed or not study.headline.figures:
        return []
    d0, d1 = study.design(fy, original), study.design(fy, anonymised)
    cb = study.codebook
    rows = []
    with np.errstate(all="ignore"):
        for fig in study.headline.figures:
            if fig.question not in original.columns:
                continue
            a = d0.assign(_y=_indicator(original, cb, fig.question, list(fig.codes)))
            b = d1.assign(_y=_indicator(anonymised, cb, fig.question, list(fig.codes)))
            for column in [None, *changed]:
                r0, r1 = _shares(a, original, column), _shares(b, anonymised, column)
                for code, (e0, s0, n0) in r0.items():
                    if code == -1:
                        continue
                    e1, s1, n1 = r1.get(code, (None, None, 0))
                    label = "全体" if column is None else f"{column}={_label(cb, column, code)}"
                    rows.append({"figure": fig.label, "domain": label, "estimate": e0, "se": s0,
                                 "n": n0, "estimate_bundle": e1, "se_bundle": s1, "n_bundle": n1,
                                 "difference": None if e0 is None or e1 is None
                                 else round(e1 - e0, 2)})
    return rows


def _label(cb, column: str, code: int) -> str:
    try:
        return cb[column].label(code) if column in cb else str(code)
    except KeyError:
        return str(code)


def _shares(design, data: pd.DataFrame, column: str | None
            ) -> dict[int | None, tuple[float | None, float | None, int]]:
    """Share of ``_y`` in percent with its SE and n: overall (``None``) or by ``column``'s
    codes (a suppressed value is domain ``-1``)."""
    try:
        if column is None:
            res = design.mean("_y", na_rm=True)
            keys: list = [None]
        else:
            by = pd.to_numeric(data[column]).fillna(-1).astype(int).to_numpy()
            res = design.assign(_by=by).mean("_y", by="_by", na_rm=True)
            keys = [int(v) for v in res["_by"]]
    except (KyodoError, ValueError, KeyError):  # an estimate that cannot be made: missing
        return {}
    out = {}
    for key, (_, row) in zip(keys, res.iterrows(), strict=True):
        n = int(row["n"]) if "n" in res.columns else 0
        if n == 0:  # an empty domain has no estimate
            out[key] = (None, None, 0)
            continue
        est, se = float(row["estimate"]), float(row["se"])
        out[key] = (None if np.isnan(est) else round(est * 100, 2),
                    None if np.isnan(se) else round(se * 100, 2), n)
    return out


# ------------------------------------------------------------------------------------------
# the bundle
# ------------------------------------------------------------------------------------------
def published_run(study: Study, fy: int, *, run_dir: Path | None = None,
                  reports_root: Path | None = None) -> Path:
    """The published run to bundle: ``run_dir`` or ``<reports>/<study>/FY<year>/latest``."""
    if run_dir is None:
        root = Path(reports_root or paths.project_root() / "reports")
        run_dir = root / study.name / f"FY{fy}" / "latest"
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.json").is_file():
        raise BundleError(f"no published run at {run_dir}: run kyodo report --study "
                          f"{study.path} --fiscal-year {fy} first (or give --run)")
    return run_dir.resolve()


def _input_map(study: Study, skip: set[Path]) -> dict[str, str]:
    """Aggregate input files named in study.yaml -> their path inside ``study/``."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for item in mf.input_files(study):
        path = (study.root / item.path).resolve()
        if path == study.path.resolve() or path in skip:
            continue
        if path == (study.root / study.settings.codebook).resolve():
            continue
        name = Path(item.path).name
        target = f"inputs/{name}"
        i = 1
        while target in used:
            i += 1
            target = f"inputs/{i}-{name}"
        used.add(target)
        out[item.path] = target
    return out


def _rewrite(value, mapping: dict[str, str]):
    if isinstance(value, str):
        return mapping.get(value, mapping.get(Path(value).as_posix(), value))
    if isinstance(value, dict):
        return {k: _rewrite(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _bundled_study_yaml(study: Study, waves: list[int], inputs: dict[str, str]) -> str:
    doc = study.settings.model_dump(mode="json", exclude_none=True)
    waves_doc = [{"fiscal_year": fy, "file": f"data/FY{fy}.csv", "format": "csv",
                  "encoding": "utf-8"} for fy in waves]
    doc = _rewrite({k: v for k, v in doc.items() if k not in ("waves", "store", "sampling_list")},
                   inputs)
    doc["codebook"] = "codebook.yaml"
    doc["waves"] = waves_doc
    head = ("# 大学連携用バンドルの調査設定（匿名化済みデータ）/ study of a partner bundle "
            "(anonymised microdata). Generated by kyodo bundle.\n")
    return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _bundled_codebook(study: Study) -> str:
    source = study.root / study.settings.codebook
    plan = recode_plan(study)
    if not plan:
        return source.read_text(encoding="utf-8")
    doc = yamlio.safe_load(source.read_text(encoding="utf-8"))
    labels = bundle_config(study).recode
    for q in doc.get("questions", []):
        if q.get("id") not in plan:
            continue
        codes = dict(study.codebook[q["id"]].codes)
        for (new, olds), label in zip(plan[q["id"]].items(), labels[q["id"]], strict=True):
            for old in olds:
                codes.pop(old, None)
            codes[new] = label
        q.pop("scale", None)
        q["codes"] = dict(sorted(codes.items()))
    return ("# codebook of a partner bundle: categories recoded by kyodo bundle\n"
            + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def _source_archive(path: Path) -> None:
    root = paths.project_root()
    pkg = Path(__file__).resolve().parents[1]

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if "__pycache__" in info.name or info.name.endswith((".pyc", ".pyo")):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(path, "w:gz") as tar:
        tar.add(pkg, arcname="kyodo_analysis", filter=keep)
        if (root / "pyproject.toml").is_file():
            tar.add(root / "pyproject.toml", arcname="pyproject.toml", filter=keep)


def _tables_json(run_dir: Path, order: list[str]) -> dict:
    from kyodo_analysis.reporting.publish import collect_tables

    records = collect_tables(run_dir / "outputs", order=order)
    return {r.key: {"notebook": r.notebook, "name": r.name, "title": r.title,
                    "columns": list(r.columns), "rows": [list(x) for x in r.rows],
                    "notes": list(r.notes), "digest": r.digest()} for r in records}


def build_bundle(study: Study, fiscal_year: int, *, out: Path, waves: list[int] | None = None,
                 run_dir: Path | None = None, reports_root: Path | None = None,
                 notebook_dir: Path | None = None, seed: int | None = None) -> BundleResult:
    """Write the partner bundle of ``study`` for ``fiscal_year`` to ``out`` (a .zip).

    Everything is staged in a hidden folder next to ``out`` and the zip is renamed into place
    when complete, so a failed or killed run leaves no partial bundle; nothing is written
    anywhere else.
    """
    start = time.monotonic()
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise BundleError(f"--out must name a .zip file, got {out}")
    fy = study.wave(fiscal_year).fiscal_year
    chosen = sorted(waves) if waves else [y for y in study.fiscal_years if y <= fy]
    for y in chosen:
        study.wave(y)
    if fy not in chosen:
        raise BundleError(f"the bundle must hold the reported wave FY{fy}")
    run = published_run(study, fy, run_dir=run_dir, reports_root=reports_root)
    manifest = mf.load_manifest(run / "manifest.json")
    if manifest.get("status") != "ok":
        raise BundleError(f"the run {run} did not complete cleanly (status "
                          f"{manifest.get('status')!r}); bundle a clean run")
    if int(manifest["fiscal_year"]) != fy or manifest["study"]["name"] != study.name:
        raise BundleError(f"the run {run} is of {manifest['study']['name']} "
                          f"FY{manifest['fiscal_year']}, not {study.name} FY{fy}")
    notebook_dir = Path(notebook_dir or paths.notebook_dir())
    study.ensure_imported()
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(128))
    out.parent.mkdir(parents=True, exist_ok=True)
    folder_name = f"{study.name}-FY{fy}-bundle"
    stage = Path(out.parent / f".{out.name}.build-{os.getpid()}-{secrets.token_hex(4)}")
    tmp_zip = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    # frictionless validates in a helper process while the rest is written: its import alone
    # (jsonschema's format grammars) takes seconds of CPU
    checker = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    checks = [checker.submit(load_validator)]
    try:
        root = stage / folder_name
        (root / "study" / "data").mkdir(parents=True)
        schemas: dict[str, dict] = {}
        risk: dict = {"k": bundle_config(study).k, "l": bundle_config(study).l, "waves": {}}
        skip = {w.file.resolve() for w in study.waves}
        skip |= {w.sampling_list.resolve() for w in study.waves if w.sampling_list}
        for y in chosen:
            data = study.load_wave(y)
            design = study.design(y, data)
            weights = np.asarray(design.weights, dtype=float)
            anon, rep = anonymise_wave(study, data, weights, rng=rng)
            order = rep.pop("order")
            fpc = None
            strata = study.settings.design.strata if study.settings.design else None
            if strata:
                sizes, labels = study.frame_sizes(), study.codebook[strata].codes
                fpc = np.asarray([sizes[labels[int(c)]] for c in data[strata]], float)[order]
            if y == fy:
                rep["information_loss"] = information_loss(
                    study, y, data, anon.iloc[np.argsort(order)].reset_index(drop=True), rep)
            rel = f"study/data/FY{y}.csv"
            columns = _csv(anon, weights[order], fpc, root / rel)
            schemas[rel] = microdata_schema(study.codebook, columns)
            checks.append(checker.submit(validate_table, root, rel, schemas[rel]))
            risk["waves"][str(y)] = rep
        inputs = _input_map(study, skip)
        for src, target in inputs.items():
            dest = root / "study" / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(study.root / src, dest)
        (root / "study" / "study.yaml").write_text(_bundled_study_yaml(study, chosen, inputs),
                                                   encoding="utf-8")
        (root / "study" / "codebook.yaml").write_text(_bundled_codebook(study), encoding="utf-8")
        # notebooks and their parameters
        (root / "notebooks").mkdir()
        runs = []
        for nb in manifest["notebooks"]:
            src = notebook_dir / f"{nb['notebook']}.ipynb"
            if not src.is_file():
                raise BundleError(f"notebook {src} of the published run is missing")
            dest = root / "notebooks" / src.name
            if not dest.exists():
                shutil.copyfile(src, dest)
            params = {k: v for k, v in nb["parameters"].items() if k != "study"}
            runs.append({"id": nb["id"], "notebook": nb["notebook"], "title": nb.get("title"),
                         "group": nb.get("group", ""), "parameters": params,
                         "source_sha256": nb.get("source_sha256"),
                         "changed_since_run": bool(nb.get("source_sha256")) and
                         mf.sha256_file(src) != nb.get("source_sha256")})
        (root / "notebooks" / "parameters.json").write_text(
            json.dumps({"study": "study/study.yaml", "fiscal_year": fy, "runs": runs},
                       ensure_ascii=False, indent=1), encoding="utf-8")
        # the published run
        (root / "published").mkdir()
        shutil.copyfile(run / "manifest.json", root / "published" / "manifest.json")
        (root / "published" / "tables.json").write_text(json.dumps(
            _tables_json(run, [n["id"] for n in manifest["notebooks"]]), ensure_ascii=False,
            indent=0, default=str), encoding="utf-8")
        # environment and source
        (root / "environment").mkdir()
        for name in ("requirements.lock", "environment.yml"):
            src = paths.project_root() / name
            if src.is_file():
                shutil.copyfile(src, root / "environment" / name)
        (root / "source").mkdir()
        _source_archive(root / "source" / "kyodo_analysis.tar.gz")
        # one-command reproduction with only python3 (and make)
        shutil.copyfile(Path(__file__).with_name("bootstrap.py"), root / "reproduce.py")
        (root / "Makefile").write_text(
            "# Reproduce every published table: checks hashes, creates the environment from\n"
            "# environment/requirements.lock, runs the notebooks on this bundle.\n"
            "PYTHON ?= python3\n\nreproduce:\n\t$(PYTHON) reproduce.py\n\n.PHONY: reproduce\n",
            encoding="utf-8")
        # disclosure-risk report
        (root / "disclosure").mkdir()
        (root / "disclosure" / "risk_report.json").write_text(
            json.dumps(risk, ensure_ascii=False, indent=1, default=_json_default),
            encoding="utf-8")
        from kyodo_analysis.bundle.readme import readme, risk_markdown

        (root / "disclosure" / "risk_report.md").write_text(risk_markdown(study, risk),
                                                            encoding="utf-8")
        description = {
            "kind": "kyodo_analysis study bundle", "format_version": FORMAT_VERSION,
            "study": study.name, "title": study.title, "demo": study.demo,
            "fiscal_year": fy, "waves": chosen, "study_file": "study/study.yaml",
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run_id": manifest.get("run_id"), "git": manifest.get("git"),
            "kyodo_analysis": mf.package_versions().get("kyodo_analysis"),
            "anonymisation": {y: {"suppressed": r["suppressed"],
                                  "recoded": {c: n for c, n in r["recoded"].items() if n},
                                  "recode_labels": bundle_config(study).recode,
                                  "free_text_dropped": r["free_text_dropped"],
                                  "free_text_masked": r["free_text_masked"],
                                  "dates_coarsened": r["dates_coarsened"],
                                  "records_changed": r["records_changed"]}
                              for y, r in risk["waves"].items()},
        }
        (root / BUNDLE_FILE).write_text(json.dumps(description, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
        (root / "README.md").write_text(readme(study, description, risk), encoding="utf-8")
        write_datapackage(root, name=folder_name,
                          title=f"{study.title} {fiscal_year_label(fy)} 大学連携用バンドル",
                          schemas=schemas,
                          description="Anonymised microdata, codebook, design, notebooks and "
                                      "the published run (kyodo bundle).")
        checks.append(checker.submit(validate_package, root, tables=False))
        errors = [e for check in checks for e in (check.result() or [])]
        if errors:
            raise BundleError("datapackage.json does not validate: " + "; ".join(errors[:5]))
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=6) as zf:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                zf.write(path, path.relative_to(stage).as_posix(),  # .gz: compressed already
                         compress_type=zipfile.ZIP_STORED if path.suffix == ".gz" else None)
        os.replace(tmp_zip, out)
    finally:
        checker.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            tmp_zip.unlink()
    seconds = time.monotonic() - start
    log.info("bundle %s written in %.1f s", out, seconds)
    return BundleResult(out, risk, seconds)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
