"""The demo is one study among many: the package and the notebooks must not know its layout.

Question ids, option columns, raw header names, districts and plan years of the demo belong in
its configuration (data/demo, kyodo_analysis/demo), never in code: a city's own questionnaire
must reach a report without editing Python.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from kyodo_analysis.codebook import Codebook
from kyodo_analysis.demo import spec

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kyodo_analysis"
#: Header names of the demo that are also the package's own generic words: a fiscal-year label
#: prefix, the canonical id column, and the Japanese words for respondent attributes that
#: `kyodo init` must recognise in any city's export (性別, 年齢 ... are vocabulary, not layout).
GENERIC = {"id", "FY", "性別", "年齢", "職業", "居住年数", "小学校区", "中学校区"}
#: The era table: 令和 starts in 2019 whatever the study.
ERA_TABLE = PACKAGE / "calendar.py"


def _demo_tokens() -> set[str]:
    cb = Codebook.from_yaml(PACKAGE / "demo" / "codebook.yaml")
    tokens = {q.id for q in cb} | set(cb.header_aliases())
    for q in cb:
        if q.is_multiple:
            tokens |= set(q.option_ids)
    tokens |= set(spec.DISTRICTS) | set(spec.ELEMENTARY)
    return tokens - GENERIC


def _string_constants(tree: ast.AST) -> list[tuple[int, str]]:
    """String literals of a module that are not docstrings, with their line numbers."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def _package_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "demo" not in p.relative_to(PACKAGE).parts]


def test_the_scan_finds_a_demo_id_where_one_is_planted(tmp_path):
    planted = ast.parse('COLUMN = "stratum"\nLABEL = f"{x}"\n')
    assert {v for _, v in _string_constants(planted)} & _demo_tokens() == {"stratum"}


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_demo_names_in_package_code(path):
    tokens = _demo_tokens()
    found = [(line, value) for line, value in _string_constants(ast.parse(path.read_text("utf-8")))
             if value in tokens]
    assert not found, f"{path.relative_to(ROOT)} names the demo's {found}: move it to the study config"


def test_no_demo_years_in_package_code():
    """Plan start, disrupted (COVID) and reference years are study configuration."""
    years = {spec.PLAN_START, *spec.COVID_YEARS, *spec.REFERENCE_YEARS}
    found = []
    for path in (p for p in _package_files() if p != ERA_TABLE):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in years:
                found.append((str(path.relative_to(ROOT)), node.lineno, node.value))
    assert not found, found


def test_notebooks_name_no_question_id():
    tokens = _demo_tokens()
    quoted = re.compile(r"""["']([^"'\n]+)["']""")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            hits = {m for m in quoted.findall(source) if m in tokens}
            hits |= set(re.findall(r"\b[qf]\d+(?:_\d+)?\b", source))
            assert not hits, f"{path.name} names question ids {sorted(hits)}"
