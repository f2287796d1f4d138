"""The partner's README.md (日本語 / English) and the disclosure-risk report in Markdown.

Text from the study (titles, labels) is written as Markdown code spans or table cells with
the Markdown special characters escaped, never as markup.
"""

from __future__ import annotations

import re

from kyodo_analysis.calendar import fiscal_year_label

__all__ = ["code", "md", "readme", "risk_markdown"]


def md(text: object) -> str:
    """Escape Markdown/HTML special characters of a value written into a Markdown file."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+!|~])", r"\\\1", s)


def code(text: object) -> str:
    """A value as a Markdown code span (no escapes inside; backticks and line breaks removed)."""
    return "`" + str(text).replace("`", "'").replace("\n", " ").replace("\r", " ") + "`"


def readme(study, description: dict, risk: dict) -> str:
    fy = description["fiscal_year"]
    waves = ", ".join(f"FY{y}" for y in description["waves"])
    demo = ("\n> **デモデータ / synthetic demo data**: " + md(study.notice or "") + "\n"
            if study.demo else "")
    return f"""# {md(study.title)} — 大学連携用データバンドル / study bundle for university partners
{demo}
対象年度 / reported year: {fiscal_year_label(fy)} (FY{fy}) ・ 収録調査回 / waves: {waves} ・
k-匿名性 / k-anonymity: k = {risk['k']}

## 日本語

このバンドルには、公表した報告書の集計表をご自身の計算機で再現し、再分析するための一式が入っています。

- `study/data/FY<年度>.csv` — 匿名化した個票データ（回答者IDは無作為の行キーに置換、自由記述は削除、日付は年月に丸め、
  準識別子は k-匿名性を満たすよう一部の値を秘匿（空欄））。`weight` 列は市の最終ウェイト、`fpc` 列は層の母集団数です。
- `study/study.yaml`, `study/codebook.yaml` — 調査の設定と調査票のコード表。`study/inputs/` — 母集団数などの集計値。
- `disclosure/risk_report.md` — 開示リスクの報告（匿名化の前後の k-匿名性違反・個体リスク、
  変更した値の数、主要な推定値の変化）。
- `notebooks/` と `notebooks/parameters.json` — 公表時のノートブックとパラメータ。
  `published/` — 公表した実行の記録と集計表。
- `environment/requirements.lock` — 公表時と同じパッケージの版（ハッシュ付き）。`source/` — 使用した kyodo_analysis。
- `datapackage.json` — 全ファイルの sha256 とデータの列定義（Frictionless Data Package）。

再現: `kyodo reproduce このファイル.zip`（ハッシュを確認し、ロックファイルから環境を作り、ノートブックを実行して
公表した全集計表をセル単位で比較します。匿名化のため値が変わったセルは理由とともに示されます）。
環境はロックファイルに版とハッシュを固定した uv で作ります。パッケージは `~/.cache/kyodo/wheels`
（環境変数 `KYODO_WHEELS` で変更、空にすると保存しない）に保存して次回から使います。uv が使えないときは pip で作ります。

分析: JupyterLab で `import kyodo_analysis as ka; s = ka.open_bundle("このファイル.zip"); s.design({fy})`。
市と同じ `Study` と `design()`（層別・有限母集団修正・重み付け）が読み取り専用で使えます。

利用条件: 個人の特定を試みないこと、他のデータと照合しないこと、協定で定めた目的以外に使わないこと。

## English

This bundle lets you reproduce every table of the published report on your own machine and
re-analyse the survey.

- `study/data/FY<year>.csv` — anonymised microdata (respondent ids replaced by random row keys,
  free text removed, dates coarsened to year-month, quasi-identifiers locally suppressed (blank)
  to k-anonymity). `weight` is the city's final weight, `fpc` the stratum's frame size.
- `study/study.yaml`, `study/codebook.yaml` — the study configuration and codebook;
  `study/inputs/` — aggregate inputs (population totals, frame sizes, ...).
- `disclosure/risk_report.md` — disclosure risk before and after anonymisation, values changed,
  and the change of key estimates with their standard errors.
- `notebooks/` with `notebooks/parameters.json` — the notebooks and parameters of the published
  run; `published/` — its manifest and tables.
- `environment/requirements.lock` — the exact, hash-pinned packages; `source/` — kyodo_analysis.
- `datapackage.json` — sha256 of every file and the table schemas (Frictionless Data Package).

Reproduce: `kyodo reproduce this.zip` verifies the hashes, creates the environment from the
lock, runs the notebooks on the bundle and compares every published table cell by cell; cells
changed by the anonymisation are listed with the reason. The environment is made by uv (pinned
with its hashes in the lock) from a local wheel cache, `~/.cache/kyodo/wheels` (`$KYODO_WHEELS`;
empty: none), filled on first use; pip is the fallback.

Analyse: `import kyodo_analysis as ka; s = ka.open_bundle("this.zip"); s.design({fy})` gives the
city's `Study` and `design()` (strata, fpc, weighting), read-only.

Terms: do not attempt to identify anyone, do not link with other data, use only for the agreed
purpose.
"""


def design_cells_markdown(r: dict) -> list[str]:
    """Why records of design cells smaller than k stay in the bundle as they are."""
    d = r.get("design_cells") or {}
    lines = [f"設計上の区分（層 × 重み付けの区分）が k 未満のレコード / records in design cells "
             f"(strata x weighting margins) smaller than k: {r['design_cells_below_k']}"]
    if not d:
        return lines
    lines += [
        "",
        f"* 区分 / cells: {d['cells']}; 標本の件数 / sample sizes f: {d['sample_sizes']}; "
        f"推定母集団 / estimated population F: {d['population_estimates']}; "
        f"個体リスク最大 / max individual risk: {d['risk_max']:.4f}",
        "* 他の準識別子はすべて秘匿済み / all their other key variables suppressed: "
        + ("はい / yes" if d["other_keys_suppressed"] else "いいえ / no"),
        "* 設計変数を秘匿しない理由 / why their design variables are not suppressed: "
        + ("最終ウェイトが区分ごとに一つの値で、ウェイトの列から区分が分かるため秘匿しても保護に"
           "なりません / the final weight is one value per cell, so the weight column shows "
           "the cell anyway; " if d["weight_identifies_cell"] else "")
        + "公表した標準誤差は各レコードの重み付けの区分（キャリブレーション残差）を使うため、"
          "秘匿すると公表値と同じ標準誤差が出ません / the published standard errors use each "
          "record's weighting cell (calibration residuals): suppressing it changes them",
    ]
    return lines


def risk_markdown(study, risk: dict) -> str:
    lines = [f"# 開示リスクの報告 / Disclosure-risk report — {md(study.title)}", "",
             f"k = {risk['k']}, l = {risk['l']}", ""]
    for y, r in risk["waves"].items():
        b, a = r["before"], r["after"]
        lines += [f"## FY{y}", "",
                  "準識別子 / key variables: " + ", ".join(code(k) for k in r["keys"]),
                  "（保護 / never suppressed: " + ", ".join(code(k) for k in r["protected"])
                  + "）", "",
                  "| 指標 / measure | 匿名化前 / before | 匿名化後 / after |", "|---|---:|---:|",
                  f"| 件数 / records | {b['records']} | {a['records']} |",
                  f"| k-匿名性違反 / k violations (f < k) | {b['k_violations']} | {a['k_violations']} |",
                  f"| 一意なキー / unique keys (f = 1) | {b['unique_keys']} | {a['unique_keys']} |",
                  f"| 個体リスク最大 / max individual risk | {b['risk_max']:.4f} | {a['risk_max']:.4f} |",
                  f"| 個体リスク平均 / mean individual risk | {b['risk_mean']:.4f} | {a['risk_mean']:.4f} |",
                  f"| 再識別の期待件数 / expected re-identifications | {b['expected_reidentifications']:.2f} "
                  f"| {a['expected_reidentifications']:.2f} |", "",
                  f"変更したレコード / records changed: {r['records_changed']}", ""]
        if r.get("design_cells_below_k"):
            lines += [*design_cells_markdown(r), ""]
        if r["suppressed"]:
            lines.append("秘匿した値 / values suppressed: " + ", ".join(
                f"{code(c)} {n}" for c, n in r["suppressed"].items()))
        recoded = {c: n for c, n in r["recoded"].items() if n}
        if recoded:
            lines.append("再符号化した値 / values recoded: " + ", ".join(
                f"{code(c)} {n}" for c, n in recoded.items()))
        if r["free_text_dropped"]:
            lines.append("削除した自由記述 / free text removed: " + ", ".join(
                code(c) for c in r["free_text_dropped"]))
        for item, ld in r["l_diversity"].items():
            lines.append(f"l-多様性 / l-diversity {code(item)}: 最小 l {ld['min_before']} → "
                         f"{ld['min_after']}, 違反 / violations {ld['violations_before']} → "
                         f"{ld['violations_after']}")
        loss = r.get("information_loss") or []
        if loss:
            lines += ["", "### 主要な推定値の変化 / change of key estimates (%)", "",
                      "| 指標 / figure | 集団 / domain | 元の推定値 (SE) | バンドル (SE) | 差 |",
                      "|---|---|---:|---:|---:|"]
            for row in loss:
                def fmt(e, s):
                    return "—" if e is None else f"{e:.1f} ({s:.2f})"
                diff = "—" if row["difference"] is None else f"{row['difference']:+.2f}"
                lines.append(f"| {md(row['figure'])} | {md(row['domain'])} | "
                             f"{fmt(row['estimate'], row['se'])} | "
                             f"{fmt(row['estimate_bundle'], row['se_bundle'])} | {diff} |")
        lines.append("")
    return "\n".join(lines) + "\n"
