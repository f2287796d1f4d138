"""The register template that ``kyodo init --collaboration`` writes (協働事業台帳の雛形).

One workbook, four sheets: 事業台帳 (the register, with a 入力例 row), 振り返り (the two-sided
review sheet, with two 入力例 rows), コード表 (the codes the register accepts: 施策, 種別,
形態, 助成区分, 地区) and 記入方法 (how to fill it in). Rows whose 事業ID is 「入力例」 are
skipped when the register is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kyodo_analysis.collaboration.register import EXAMPLE_ID, STAGES

__all__ = ["register_headers", "review_headers", "write_template"]


def register_headers(district_levels: Sequence[str] = ()) -> list[str]:
    """The register sheet's headers, in order."""
    return ["事業ID", "事業名", "開始年度", "終了年度", "施策", "協働の形態", "相手方",
            *[f"{s}日" for s in STAGES], "参加者数", "事業費", "助成区分", *district_levels]


def review_headers(items: Sequence[str]) -> list[str]:
    return ["事業ID", "年度", "立場", *items, "コメント"]


def write_template(path: str | Path, *, policies: Sequence, partner_types: Sequence[str],
                   forms: Sequence[str], review_items: Sequence[str],
                   grant_categories: Sequence[str] = (),
                   districts: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Write the register template workbook to ``path`` (an .xlsx) and return it."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    districts = dict(districts or {})
    codes = []
    for p in policies:
        pid, pname = _get(p, "id"), _get(p, "name")
        for m in (_get(p, "measures") or [None]):
            code = f"{pid}-{_get(m, 'id')}" if m is not None else str(pid)
            codes.append((code, f"{pname}：{_get(m, 'name')}" if m is not None else pname))
    city = next((t for t in partner_types if "行政" in t), partner_types[-1])
    other = next((t for t in partner_types if t != city), partner_types[0])
    wb = Workbook()
    bold, grey = Font(bold=True), PatternFill("solid", fgColor="EEEEEE")
    ws = wb.active
    ws.title = "事業台帳"
    headers = register_headers(list(districts))
    ws.append(headers)
    example = [EXAMPLE_ID, "（例）子ども食堂の運営", "令和7年度", "令和7年度",
               codes[0][0] if codes else "", forms[0],
               f"NPO法人○○（{other}）、市民協働課（{city}）",
               "令和7年4月10日", "令和7年4月25日", "令和7年5月20日", "令和7年6月1日",
               "令和8年2月28日", "令和8年3月15日", 120, 500000,
               grant_categories[0] if grant_categories else "",
               *[(ds[0] if ds else "") for ds in districts.values()]]
    ws.append(example)
    for cell in ws[1]:
        cell.font = bold
    for cell in ws[2]:
        cell.fill = grey
    ws.freeze_panes = "A2"
    for col in ws.columns:
        ws.column_dimensions[col[0].column_letter].width = 16
    rv = wb.create_sheet("振り返り")
    rv.append(review_headers(review_items))
    rv.append([EXAMPLE_ID, "令和7年度", "行政", *[4] * len(review_items), "（例）役割分担を事前に確認できた。"])
    rv.append([EXAMPLE_ID, "令和7年度", "市民側", *[3] * len(review_items), "（例）情報共有の頻度を増やしたい。"])
    for cell in rv[1]:
        cell.font = bold
    for row in rv.iter_rows(min_row=2, max_row=3):
        for cell in row:
            cell.fill = grey
    cs = wb.create_sheet("コード表")
    blocks = [("施策（推進施策-個別施策）", [f"{c}　{n}" for c, n in codes]),
              ("相手方の種別", list(partner_types)), ("協働の形態", list(forms)),
              ("立場（振り返り）", ["行政", "市民側"]), ("評価項目（1～5）", list(review_items))]
    if grant_categories:
        blocks.append(("助成区分", list(grant_categories)))
    blocks += [(level, list(ds)) for level, ds in districts.items()]
    for j, (title, values) in enumerate(blocks, start=1):
        cs.cell(row=1, column=j, value=title).font = bold
        for i, v in enumerate(values, start=2):
            cs.cell(row=i, column=j, value=v)
        cs.column_dimensions[cs.cell(row=1, column=j).column_letter].width = 28
    how = wb.create_sheet("記入方法")
    for line in (
        "1行に1事業。事業IDは重複しないように付けてください（「入力例」の行は読み込みません）。",
        "年度は 令和7年度・R7・2025 のどれでも構いません。1年度の事業は終了年度を空欄にできます。",
        "施策はコード表の「推進施策-個別施策」（例: III-1）で書きます。",
        "相手方は「名前（種別）」を「、」で区切って1つのセルに書きます。最初に書いた相手方を主導（提案した主体）とみなします。",
        "段階の日付（相談日～振り返り日）は分かるものだけで構いません。順序が前後している行は理由付きで保留されます。",
        "振り返りシートは、事業・年度・立場（行政／市民側）ごとに1行。各項目を1～5で評価します（5 = よくできた）。",
    ):
        how.append([line])
    how.column_dimensions["A"].width = 120
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _get(obj, key):
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key)
