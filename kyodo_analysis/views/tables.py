"""Tabulations in municipal style: base n shown, % to one decimal, 無回答 explicit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from kyodo_analysis.codebook import Codebook, Question
from kyodo_analysis.errors import KyodoError
from kyodo_analysis.options import DEFAULT_OPTIONS, DisplayOptions

__all__ = [
    "BASE_LABEL",
    "asked_in",
    "base_note",
    "ci_headers",
    "codebook_questions",
    "display_cell",
    "domain_codes",
    "format_percent",
    "interval",
    "likert_groups",
    "protect_sensitive",
    "response_rate_table",
    "rounded",
    "sensitive_cells",
    "single_tabulation",
    "styled",
    "tabulate",
    "tabulation_table",
    "weighted_tabulation",
    "weighting_comparison",
    "weighting_sentence",
    "weighting_tables",
    "zero_width_note",
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
    multiple-response question each option (a blank counts as not chosen), then 無回答 (every
    option blank); every row is in the base.
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


def interval(p, se, df, *, method: str = "logit", level: float = 0.95
             ) -> tuple[np.ndarray, np.ndarray]:
    """The one interval of every published share (proportions, not percent).

    ``logit`` is R ``svyciprop(method="logit")``: ``expit(logit(p) -+ t_df se / (p(1-p)))``;
    ``wald`` is ``p -+ t_df se`` clipped to [0, 1]; ``asin`` the arcsine interval. ``df`` is the
    design's degrees of freedom of the domain (R ``degf``); a share of 0 or 1 with no variance
    has the zero-width interval ``[p, p]`` (pages say so in a note).
    """
    from kyodo_analysis.stats import _dist

    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), p.shape)
    crit = np.where(np.isfinite(df) & (df > 0), _dist.t_ppf((1 + level) / 2, np.maximum(df, 1)),
                    _dist.norm_ppf((1 + level) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "logit":
            eta = np.log(p / (1 - p))
            half = crit * se / (p * (1 - p))
            lo, hi = 1 / (1 + np.exp(-(eta - half))), 1 / (1 + np.exp(-(eta + half)))
        elif method == "wald":
            lo, hi = np.clip(p - crit * se, 0, 1), np.clip(p + crit * se, 0, 1)
        elif method == "asin":
            eta = np.arcsin(np.sqrt(p))
            half = crit * se / (2 * np.sqrt(p * (1 - p)))
            lo = np.sin(np.clip(eta - half, 0, np.pi / 2)) ** 2
            hi = np.sin(np.clip(eta + half, 0, np.pi / 2)) ** 2
        else:
            raise KyodoError(f"unknown interval method {method!r}: use logit, wald or asin")
    degenerate = (p <= 0) | (p >= 1) | ~np.isfinite(lo) | ~np.isfinite(hi)
    return np.where(degenerate, p, lo), np.where(degenerate, p, hi)


def domain_codes(data: pd.DataFrame, column: str, codebook: Codebook) -> pd.Series:
    """Labels of a domain column (a district level or attribute); NaN where the respondent
    left it blank or gave a non-substantive code (such rows are in no group)."""
    codes = codebook[column].codes if column in codebook else {}
    values = pd.Series(data[column].to_numpy(dtype=float, na_value=np.nan), index=data.index)
    labels = values.map({float(code): label for code, label in codes.items()}).astype(object)
    return labels.where(labels.notna(), None)


def tabulate(design, question: Question, *, by: str | None = None, codebook: Codebook | None = None,
             options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """単純集計 (or by domain) of one question from the design: the one tabulation path.

    Every published percentage comes from here: the weighted share (Hájek ratio mean of the
    category indicator over the base, domain-style in the design, so weighted when the study
    is weighted) with its linearised standard error and the interval chosen in study.yaml
    (:func:`interval`). The base is every respondent to whom the question applied; 無回答 is a
    category of its own and stays in the base (single-answer rows add up to 100%).

    Parameters
    ----------
    design
        The wave's design (:meth:`Study.design`).
    question
        The codebook entry.
    by
        A domain column (district level or attribute column); its codebook labels name the
        groups, respondents without a substantive code are in no group.
    codebook
        Needed with ``by`` (for the group labels).
    options
        Interval method and level (:meth:`DisplayOptions.for_study`).

    Returns
    -------
    DataFrame
        ``[group], code, label, n, base, percent, se, ci_low, ci_high`` (percent units; ``n``
        and ``base`` unweighted counts). ``attrs``: ``question``, ``text``, ``multiple``,
        ``base`` (without ``by``), ``weighted``.
    """
    data = design.data
    indicators = _category_indicators(data, question)
    cols = list(indicators.columns)
    if question.is_multiple:
        codes = [o.code for o in question.options]
        labels = [o.label for o in question.options]
    else:
        codes, labels = list(question.codes), list(question.codes.values())
    codes, labels = [*codes, None], [*labels, "無回答"]
    extra = dict(indicators)
    group = None
    if by is not None:
        if codebook is None:
            raise KyodoError("tabulate(by=...) needs the codebook for the group labels")
        group = domain_codes(data, by, codebook)
        extra["_group"] = group
    est = design.assign(**extra).multi_response(cols, by="_group" if by else None)
    hits = (indicators.to_numpy() == 1)
    applies = ~np.isnan(indicators.to_numpy()[:, 0])
    p_all = est["estimate"].to_numpy(dtype=float)
    se_all = est["se"].to_numpy(dtype=float)
    lo_all, hi_all = interval(p_all, se_all, est["df"].to_numpy(dtype=float),
                              method=options.interval, level=options.level)
    if by is None:
        keys: list = [None]
        member = {None: np.ones(len(data), bool)}
        at = {None: np.arange(len(est))}
    else:
        labels_of_row = group.to_numpy(dtype=object)
        keys = [g for g in codebook[by].codes.values() if (labels_of_row == g).any()]
        member = {g: labels_of_row == g for g in keys}
        est_group = est["_group"].to_numpy(dtype=object)
        at = {g: np.flatnonzero(est_group == g) for g in keys}
    columns: dict[str, list] = {name: [] for name in
                                ["group", "code", "label", "n", "base", "percent", "se", "ci_low", "ci_high"]}
    for key in keys:
        rows, i = member[key], at[key]
        columns["group"] += [key] * len(codes)
        columns["code"] += codes
        columns["label"] += labels
        columns["n"] += hits[rows].sum(axis=0).astype(int).tolist()
        columns["base"] += [int((applies & rows).sum())] * len(codes)
        for name, values in (("percent", p_all), ("se", se_all), ("ci_low", lo_all), ("ci_high", hi_all)):
            columns[name] += (100 * values[i]).tolist()
    out = pd.DataFrame(columns)
    out["code"] = pd.array(columns["code"], dtype="Int64")
    out["n"] = out["n"].astype(int)
    out["base"] = out["base"].astype(int)
    for name in ("percent", "se", "ci_low", "ci_high"):
        out[name] = out[name].astype(float)
    if by is None:
        out = out.drop(columns="group")
    out.attrs.update(question=question.id, text=question.text, multiple=question.is_multiple,
                     weighted=bool(getattr(design, "is_weighted", True)),
                     base=int(applies.sum()), by=by, interval=options.interval,
                     level=options.level)
    return out


def weighted_tabulation(design, question: Question, *, level: float = 0.95,
                        options: DisplayOptions | None = None) -> pd.DataFrame:
    """単純集計 with design-based percentages and intervals (:func:`tabulate` without ``by``)."""
    opts = options or replace(DEFAULT_OPTIONS, level=level)
    return tabulate(design, question, options=opts)


def format_percent(value: float, options: DisplayOptions = DEFAULT_OPTIONS) -> str:
    """Format a percentage to the configured decimals (``"12.3"``); missing becomes ``"-"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.{options.decimals}f}"


def rounded(value: float, options: DisplayOptions = DEFAULT_OPTIONS) -> float | None:
    """A percentage as published: a number rounded to the configured decimals (None if missing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), options.decimals)


#: Row label of the base row in every published table.
BASE_LABEL = "回答者数（n）"


def ci_headers(options: DisplayOptions = DEFAULT_OPTIONS) -> tuple[str, str]:
    return (f"{options.level_label}信頼区間 下限", f"{options.level_label}信頼区間 上限")


def tabulation_table(table: pd.DataFrame, options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """A tabulation laid out for publication: 回答, n, %, the interval as two numeric columns
    (when the table has one) and a final row with the base n. Percentages are numbers
    rounded to ``options.decimals``."""
    shown = pd.DataFrame({
        "回答": table["label"].astype(str),
        "n": table["n"].astype(int),
        "%": [rounded(v, options) for v in table["percent"]],
    }).astype(object)
    lo_h, hi_h = ci_headers(options)
    if "ci_low" in table:
        shown[lo_h] = [rounded(v, options) for v in table["ci_low"]]
        shown[hi_h] = [rounded(v, options) for v in table["ci_high"]]
    total_pct = None if table.attrs.get("multiple") else rounded(100.0, options)
    total = {"回答": BASE_LABEL, "n": int(table.attrs["base"]), "%": total_pct}
    if "ci_low" in table:
        total[lo_h] = None
        total[hi_h] = None
    return pd.concat([shown, pd.DataFrame([total])], ignore_index=True)


def zero_width_note(table: pd.DataFrame) -> str | None:
    """The note for a table with an interval of zero width (a share of 0% or 100%)."""
    if "ci_low" not in table:
        return None
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    if np.any(np.isfinite(lo) & (np.abs(hi - lo) < 1e-9)):
        return ("※割合が0%または100%の区分は標本のばらつきから区間を推定できないため、"
                "信頼区間の幅が0になっています。")
    return None


def base_note(*, multiple: bool, valid_only: bool = False, weighted: bool = True,
              options: DisplayOptions = DEFAULT_OPTIONS) -> str:
    """The note every table carries: what the base is, weighting, interval method."""
    base = ("基数（n）は有効回答者数（無回答を除く）です。" if valid_only else
            "基数（n）は設問に該当する回答者数（重み付け前）で、無回答を含みます。")
    w = ("割合（%）は重み付けした推定値です。" if weighted
         else "割合（%）は回答者の単純集計です。")
    m = ("複数回答のため合計は100%を超えます。" if multiple else
         "四捨五入のため合計が100.0%にならない場合があります。")
    return w + base + m + options.interval_note


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
    out = pd.DataFrame(rows).astype(object)
    out["回収率（%）"] = [rounded(100 * r / s, options) if s else None
                        for r, s in zip(out["回収数"], out["発送数"], strict=True)]
    return out


_TEXT_COLUMNS = ("回答", "区分", "属性", "指標", "重み", "変数", "95%信頼区間")


def display_cell(value: object, options: DisplayOptions = DEFAULT_OPTIONS) -> str:
    """A published cell as shown on a page: integers with thousands separators, decimals to
    ``options.decimals``, missing as 「-」, text as is."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{float(value):,.{options.decimals}f}"
    return str(value)


def _is_text_column(values: pd.Series) -> bool:
    return any(isinstance(v, str) and v not in ("x", "-", "") for v in values)


def styled(table: pd.DataFrame, options: DisplayOptions = DEFAULT_OPTIONS, *,
           marks: pd.DataFrame | None = None):
    """A publication table as a pandas Styler: no index, labels left-aligned, numbers
    right-aligned with thousands separators; cells and headers are escaped once. ``marks``
    (same shape, e.g. ▲/▼) are appended to the shown cells."""
    import html as _html

    text = [c for c in table.columns if c in _TEXT_COLUMNS or _is_text_column(table[c])]
    numbers = [c for c in table.columns if c not in text]
    shown = table
    if marks is not None:
        shown = table.copy().astype(object)
        for j, col in enumerate(table.columns):
            shown[col] = [display_cell(v, options) + str(m) if m else v
                          for v, m in zip(table[col], marks.iloc[:, j], strict=True)]
    def p_value(v: object) -> str:
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v):
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        return _html.escape(display_cell(v, options))

    p_columns = [c for c in table.columns if "p値" in str(c)]
    return (shown.style.hide(axis="index")
            .format(lambda v: _html.escape(display_cell(v, options)))
            .format(p_value, subset=p_columns)
            .format_index(escape="html", axis=1)
            .set_table_styles([{"selector": "th", "props": "text-align: left;"}])
            .set_properties(**{"text-align": "left"}, subset=text)
            .set_properties(**{"text-align": "right"}, subset=numbers))


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
        lo_h, hi_h = ci_headers(options)
        p_est = float(est["estimate"])
        lo, hi = interval([p_est], [float(est["se"])], [float(est["df"])],
                          method=options.interval, level=options.level)
        rows.append({
            "指標": label,
            "n": int(np.sum(~np.isnan(y))),
            "回答者の単純割合（%）": rounded(raw, options),
            "重み付け推定値（%）": rounded(100 * p_est, options),
            lo_h: rounded(100 * float(lo[0]), options),
            hi_h: rounded(100 * float(hi[0]), options),
            "差（ポイント）": rounded(100 * p_est - raw, options),
        })
    return pd.DataFrame(rows)


def weighting_tables(report, options: DisplayOptions = DEFAULT_OPTIONS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The weighting diagnostics in Japanese: weight distribution and margins against targets."""
    s = report.summary
    summary = pd.DataFrame({
        "重み": s["weights"].map({"design": "設計ウェイト（層別）", "final": "最終ウェイト"}).fillna(s["weights"]),
        "n": s["n"].astype(int),
        "最小": s["min"].round(2),
        "中央値": s["median"].round(2),
        "最大": s["max"].round(2),
        "最大/最小": s["max_min_ratio"].round(2),
        "Kishの設計効果": s["deff_kish"].round(3),
        "有効標本数": s["n_eff"].round(0).astype(int),
    }).astype(object)
    m = report.margins
    margins = pd.DataFrame({
        "変数": m["variable"],
        "区分": m["level"],
        "n": m["n"].astype(int),
        "母集団（目標）": m["target"].round(0).astype(int),
        "重み付け前": m["before"].round(0).astype(int),
        "重み付け後": m["final"].round(0).astype(int),
    }).astype(object)
    return summary, margins


def weighting_sentence(study, design) -> tuple[str, str | None]:
    """The weighting described in a sentence, and the iterations for a footnote."""
    spec = study.settings.design
    if not (spec and spec.weighting):
        return "重み付けはしていません（割合は回答者の単純集計です）。", None
    names = list(spec.weighting.margins.values())  # the population file's headings
    sentence = ("回答者の構成を母集団に合わせるため、" + "・".join(names)
                + "の人口に一致するよう重み付け（レイキング）をしました。")
    return sentence, "※重み付けの計算: " + design.describe_weighting().lstrip("0123456789. ")


def sensitive_cells(counts: Sequence[int], *, threshold: int, additive: bool) -> set[int]:
    """Cells of one group's answers to hide for a *sensitive* question (codebook
    ``sensitive: true``): counts of 1 to ``threshold - 1`` people, and when the group's shares
    add up to 100% (single answer) and exactly one cell is hidden, the smallest other
    substantive cell too, so the hidden one cannot be recovered as 100 minus the rest.
    ``counts`` are unweighted, in answer order (無回答 last)."""
    hidden = {i for i, n in enumerate(counts) if 0 < n < threshold}
    if additive and len(hidden) == 1:
        rest = [i for i in range(len(counts)) if i not in hidden and counts[i] > 0]
        if rest:
            hidden.add(min(rest, key=lambda i: (counts[i], i)))
    return hidden


def protect_sensitive(shown: pd.DataFrame, table: pd.DataFrame, question: Question, *,
                      options: DisplayOptions = DEFAULT_OPTIONS) -> pd.DataFrame:
    """A tabulation_table with the cells of a sensitive question hidden (n, % and interval)."""
    if not question.sensitive:
        return shown
    out = shown.copy()
    for i in sensitive_cells(table["n"].astype(int).tolist(),
                             threshold=options.suppression_threshold,
                             additive=not question.is_multiple):
        for col in out.columns[1:]:
            out.iat[i, out.columns.get_loc(col)] = "x"
    return out
