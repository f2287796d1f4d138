"""Tabulations in municipal style: base n shown, % to one decimal, 無回答 explicit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Codebook, Question
from kyodo_analysis.errors import KyodoError
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = [
    "asked_in",
    "codebook_questions",
    "format_percent",
    "likert_groups",
    "response_rate_table",
    "single_tabulation",
    "styled",
    "tabulation_table",
    "weighted_tabulation",
    "weighting_comparison",
    "weighting_tables",
]



def _weights(data: pd.DataFrame, weights: str | None) -> np.ndarray:
    if weights is None:
        return np.ones(len(data))
    w = data[weights].to_numpy(dtype=float)
    if np.isnan(w).any() or (w < 0).any():
        raise KyodoError(f"weights column {weights!r} has missing or negative values")
    return w


def _category_indicators(data: pd.DataFrame, question: Question) -> pd.DataFrame:
    """0/1 columns, one per answer category (無回答 last), NaN where the question did not apply.

    The one definition of the categories, shared by the plain and the weighted tabulation:
    for a single-choice question each code, then 無回答 (a missing code or blank); rows with a
    code the codebook declares 非該当 (``not_applicable``) are outside the base. For a
    multiple-response question each option (a blank counts as not chosen), then 無回答
    (every option blank); every row is in the base.
    """
    if question.is_multiple:
        block = data[question.option_ids]
        answered = block.notna().any(axis=1).to_numpy()
        cols = {f"_c{k}": np.where(answered, block[oid].fillna(0).to_numpy(dtype=float) == 1, 0.0)
                for k, oid in enumerate(question.option_ids)}
        cols["_na"] = (~answered).astype(float)
        return pd.DataFrame(cols, index=data.index)
    values = data[question.id].to_numpy(dtype=float, na_value=np.nan)
    applies = ~np.isin(values, list(question.not_applicable))
    cols = {f"_c{k}": (values == code).astype(float) for k, code in enumerate(question.codes)}
    cols["_na"] = (~np.isin(values, list(question.codes))).astype(float)
    frame = pd.DataFrame(cols, index=data.index)
    frame.loc[~applies, :] = np.nan
    return frame


def single_tabulation(data: pd.DataFrame, question: Question, *,
                      weights: str | None = None) -> pd.DataFrame:
    """単純集計 of one question: one row per answer with its n and %.

    The base is every respondent to whom the question applied (非該当 excluded); 無回答 is a
    row of its own and stays in the base, as municipal reports do. For a multiple-response
    question each option's % is of the same base, so the column can add up to more than 100%;
    a respondent who left every option blank counts as 無回答.

    Parameters
    ----------
    data
        One wave in canonical codes (as :meth:`Study.load_wave` returns).
    question
        The codebook entry.
    weights
        Column of survey weights; the % are then weighted shares while ``n`` stays the
        unweighted count of respondents.

    Returns
    -------
    DataFrame
        Columns ``code, label, n, percent``; ``attrs["base"]`` holds the base n and
        ``attrs["multiple"]`` says whether totals may exceed 100%.
    """
    w = _weights(data, weights)
    indicators = _category_indicators(data, question).to_numpy()
    applies = ~np.isnan(indicators[:, 0])
    hits = np.nan_to_num(indicators) == 1
    base_w = w[applies].sum()
    if question.is_multiple:
        codes = [o.code for o in question.options]
        labels = [o.label for o in question.options]
    else:
        codes, labels = list(question.codes), list(question.codes.values())
    table = pd.DataFrame({
        "code": pd.array([*codes, None], dtype="Int64"),
        "label": [*labels, "無回答"],
        "n": hits.sum(axis=0).astype(int),
        "percent": 100 * (w[:, None] * hits).sum(axis=0) / base_w if base_w > 0 else np.nan,
    })
    table.attrs.update(base=int(applies.sum()), multiple=question.is_multiple,
                       question=question.id, text=question.text, weighted=weights is not None)
    return table


def weighted_tabulation(design, question: Question, *, level: float = 0.95) -> pd.DataFrame:
    """単純集計 with design-based percentages and confidence intervals.

    The same rows and base as :func:`single_tabulation` (``n`` stays the unweighted count),
    with ``percent`` the weighted share (Hájek ratio mean of the category indicator over the
    base) and ``ci_low``/``ci_high`` its Wald interval from the design's linearised standard
    error (``se``), all in percent. The base is a domain of the design (rows outside it keep
    their strata and PSUs), so the variance is that of a domain estimate.
    """
    table = single_tabulation(design.data, question)
    indicators = _category_indicators(design.data, question)
    est = design.assign(**indicators).multi_response(list(indicators.columns), level=level)
    table["percent"] = 100 * est["estimate"].to_numpy()
    table["se"] = 100 * est["se"].to_numpy()
    table["ci_low"] = 100 * est["ci_low"].clip(lower=0).to_numpy()
    table["ci_high"] = 100 * est["ci_high"].clip(upper=1).to_numpy()
    table.attrs["weighted"] = True
    return table


def format_percent(value: float, options: DisplayOptions = DEFAULT_OPTIONS) -> str:
    """Format a percentage to the configured decimals (``"12.3"``); missing becomes ``"-"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.{options.decimals}f}"


def tabulation_table(table: pd.DataFrame, options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """A tabulation laid out for publication: 回答, n, % (and its 95% interval when the table
    is weighted) and a final row with the base n."""
    shown = pd.DataFrame({
        "回答": table["label"],
        "n": table["n"].astype(int),
        "%": [format_percent(v, options) for v in table["percent"]],
    })
    if "ci_low" in table:
        shown["95%信頼区間"] = [f"{format_percent(lo, options)}～{format_percent(hi, options)}"
                            for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)]
    total_pct = "-" if table.attrs.get("multiple") else format_percent(
        table["percent"].sum(), options)
    total = {"回答": "回答者数（n）", "n": table.attrs["base"], "%": total_pct}
    if "ci_low" in table:
        total["95%信頼区間"] = ""
    return pd.concat([shown, pd.DataFrame([total])], ignore_index=True)


def codebook_questions(codebook: Codebook, *,
                       types=("single", "likert", "multiple", "demographic"),
                       fiscal_year: int | None = None) -> list[Question]:
    """Questions to tabulate, in questionnaire order; with ``fiscal_year``, only those asked in
    that wave (a question's ``waves`` in the codebook)."""
    return [q for q in codebook if q.type in types and asked_in(q, fiscal_year)]


def asked_in(question: Question, fiscal_year: int | None) -> bool:
    """Whether ``question`` was asked in ``fiscal_year`` (always, without a ``waves`` list)."""
    waves = getattr(question, "waves", None)
    return fiscal_year is None or not waves or fiscal_year in waves


def likert_groups(codebook: Codebook, *, fiscal_year: int | None = None
                  ) -> list[tuple[str, dict[str, Question]]]:
    """Runs of consecutive rating questions on the same scale, for one stacked chart each.

    Returns ``(title, {item label: question})`` per run of two or more. When every item's text
    starts with the same bracketed heading (【満足度】…), that heading is the title and the
    items are labelled by the rest of their text; otherwise the title names the first and
    last question and items keep their text.
    """
    import re

    runs: list[list[Question]] = []
    for q in codebook_questions(codebook, types=("likert",), fiscal_year=fiscal_year):
        if runs and runs[-1][-1].codes == q.codes and _adjacent(codebook, runs[-1][-1], q):
            runs[-1].append(q)
        else:
            runs.append([q])
    out = []
    for run in (r for r in runs if len(r) >= 2):
        heads = {m.group(1) if (m := re.match(r"^【([^】]+)】", q.text)) else None for q in run}
        if len(heads) == 1 and None not in heads:
            title = heads.pop()
            items = {re.sub(r"^【[^】]+】\s*", "", q.text) or q.id: q for q in run}
        else:
            title = f"{run[0].id}～{run[-1].id}"
            items = {q.text or q.id: q for q in run}
        out.append((title, items))
    return out


def _adjacent(codebook: Codebook, a: Question, b: Question) -> bool:
    ids = [q.id for q in codebook]
    return ids.index(b.id) == ids.index(a.id) + 1



def response_rate_table(fieldwork: pd.DataFrame, fiscal_year: int, *,
                        options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """発送数・回収数・回収率 for one wave: a 全体 row, then by each attribute column.

    ``fieldwork`` is :meth:`Study.fieldwork`: ``fiscal_year``, ``sent``, ``returned`` and the
    attribute columns (listed in ``attrs["by"]``; default every other column).
    """
    wave = fieldwork[fieldwork["fiscal_year"] == fiscal_year]
    if wave.empty:
        raise KyodoError(f"no fieldwork counts for fiscal year {fiscal_year}")
    counts = ["sent", "returned"]
    by_columns = fieldwork.attrs.get("by") or [c for c in wave.columns
                                               if c not in ("fiscal_year", *counts)]
    parts = [("全体", "", wave[counts].sum().to_frame().T)]
    for by in by_columns:
        grouped = wave.groupby(by, sort=False)[counts].sum()
        parts += [(by, level, grouped.loc[[level]]) for level in grouped.index]
    rows = [{"区分": kind, "属性": level, "発送数": int(t["sent"].iloc[0]),
             "回収数": int(t["returned"].iloc[0])} for kind, level, t in parts]
    out = pd.DataFrame(rows)
    out["回収率（%）"] = [format_percent(100 * r / s, options)
                        for r, s in zip(out["回収数"], out["発送数"], strict=True)]
    return out


_TEXT_COLUMNS = ("回答", "区分", "属性", "指標", "重み", "変数", "95%信頼区間")


def styled(table: pd.DataFrame):
    """A publication table as a pandas Styler: no index, numbers right-aligned; cells and
    headers are escaped (a Styler renders raw HTML otherwise)."""
    return (table.style.hide(axis="index").format(escape="html")
            .format_index(escape="html", axis=1)
            .set_table_styles([{"selector": "th", "props": "text-align: left;"}])
            .set_properties(**{"text-align": "right"}, subset=[c for c in table.columns
                                                              if c not in _TEXT_COLUMNS]))


def _indicator(data: pd.DataFrame, column: str, codes: list[int], valid: list[int]) -> np.ndarray:
    """1/0 for valid answers (counted / not), NaN for 無回答 and 非該当."""
    values = data[column].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isin(values, valid), np.isin(values, codes).astype(float), np.nan)


def weighting_comparison(design, codebook: Codebook, headline,
                         options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """Respondents' simple share next to the weighted estimate, for the headline figures.

    ``headline`` is a sequence of ``(label, column, codes counted)`` or of objects with
    ``label``, ``question`` and ``codes`` (the study's ``headline.figures``). For a
    multiple-response option the column is the option column and the codes its values.
    The base is the valid answers (無回答 and 非該当 excluded, domain-style in the design).
    The difference in points shows how much weighting to the population changes the picture.
    """
    rows = []
    data = design.data
    for item in headline:
        label, column, codes = ((item.label, item.question, list(item.codes))
                                if hasattr(item, "question") else item)
        if column in codebook:
            valid = list(codebook[column].codes)
        else:  # an option column of a multiple-response question
            valid = [0, 1]
        y = _indicator(data, column, codes, valid)
        raw = np.nanmean(y) * 100
        est = design.assign(_y=y).mean("_y", na_rm=True).iloc[0]
        rows.append({
            "指標": label,
            "n": int(np.sum(~np.isnan(y))),
            "回答者の単純割合（%）": format_percent(raw, options),
            "重み付け推定値（%）": format_percent(100 * est["estimate"], options),
            "95%信頼区間": f"{format_percent(100 * est['ci_low'], options)}～"
                          f"{format_percent(100 * est['ci_high'], options)}",
            "差（ポイント）": f"{100 * est['estimate'] - raw:+.{options.decimals}f}",
        })
    return pd.DataFrame(rows)


def weighting_tables(report, options: DisplayOptions = DEFAULT_OPTIONS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The weighting diagnostics in Japanese: weight distribution and margins against targets."""
    s = report.summary
    summary = pd.DataFrame({
        "重み": s["weights"].map({"design": "設計ウェイト（層別）", "final": "最終ウェイト"}).fillna(s["weights"]),
        "n": s["n"],
        "最小": s["min"].map("{:.2f}".format),
        "中央値": s["median"].map("{:.2f}".format),
        "最大": s["max"].map("{:.2f}".format),
        "最大/最小": s["max_min_ratio"].map("{:.2f}".format),
        "Kishの設計効果": s["deff_kish"].map("{:.3f}".format),
        "有効標本数": s["n_eff"].round(0).astype(int),
    })
    m = report.margins
    margins = pd.DataFrame({
        "変数": m["variable"],
        "区分": m["level"],
        "n": m["n"],
        "母集団（目標）": m["target"].round(0).astype(int),
        "重み付け前": m["before"].round(0).astype(int),
        "重み付け後": m["final"].round(0).astype(int),
    })
    return summary, margins
