"""The package's runtime dependencies are declared exactly as the code imports them.

Every third-party module imported anywhere in ``kyodo_analysis`` (found by parsing the
source, including imports inside functions) must come from a distribution listed in
``[project].dependencies``, and every listed distribution must be imported, except the few
that are needed at run time without an import (named below with the reason).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# declared, never imported by the package, needed all the same
NOT_IMPORTED = {
    "ipykernel": "the kernel that executes the report notebooks",
    "jupyterlab": "make lab",
    "nbclient": "papermill's notebook executor (papermill requires it; pinned for the kernel protocol)",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "kyodo_analysis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("kyodo_analysis", "__future__")}


def test_imports_match_declared_dependencies() -> None:
    declared = {_name(r) for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    # dask[distributed] is declared as dask with its extra; the code imports distributed
    declared_modules = declared | ({"distributed"} if "dask" in declared else set())
    dists = packages_distributions()
    imported: set[str] = set()
    unknown = []
    for mod in sorted(_imported_modules()):
        names = {_name(d) for d in dists.get(mod, [])}
        if not names:
            unknown.append(mod)
            continue
        hit = names & declared_modules or ({"distributed"} if mod == "distributed" else set())
        imported |= hit or names
    assert not unknown, f"imported but not installed (so surely not declared): {unknown}"
    undeclared = imported - declared_modules
    assert not undeclared, f"imported but not declared in pyproject.toml: {sorted(undeclared)}"
    via_extra = {"dask"} if "distributed" in imported else set()
    unused = declared - imported - via_extra - set(NOT_IMPORTED)
    assert not unused, f"declared but never imported (drop them or say why in NOT_IMPORTED): {sorted(unused)}"
