"""A worker keeps its kernel for its next page: every page must still start from the state a
fresh kernel gives it, and produce the same outputs as in a kernel of its own."""

from __future__ import annotations

import json
import os
import random
import re
import sys
import warnings
from pathlib import Path

import matplotlib as mpl
import nbformat
import numpy as np
import pytest

from kyodo_analysis.paths import notebook_dir
from kyodo_analysis.reporting import kernel_state, runner


@pytest.fixture
def saved_state():
    yield
    kernel_state._saved = None


def _emit() -> None:
    warnings.warn("kyodo kernel-state test warning", UserWarning, stacklevel=1)


def test_restore_puts_back_what_a_page_changes(tmp_path, saved_state):
    cwd, path = os.getcwd(), list(sys.path)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        kernel_state.save()
        size, err, precision = mpl.rcParams["font.size"], np.geterr(), np.get_printoptions()
        draws = (np.random.random(3), random.random())  # noqa: NPY002
        kernel_state.restore()  # the draws above moved the global states: back to the saved
        _emit()
        _emit()
        assert len(shown) == 1  # "default": once per location ...
        # ... what a page may change
        mpl.rcParams["font.size"] = size + 7
        warnings.simplefilter("error")
        np.seterr(all="raise")
        np.set_printoptions(precision=2)
        np.random.seed(1)  # noqa: NPY002
        random.seed(1)
        os.environ["KYODO_PAGE_LEAK"] = "1"
        sys.path.append(str(tmp_path))
        os.chdir(tmp_path)
        kernel_state.restore()
        assert mpl.rcParams["font.size"] == size
        assert np.geterr() == err and np.get_printoptions() == precision
        assert np.array_equal(np.random.random(3), draws[0]) and random.random() == draws[1]  # noqa: NPY002
        assert "KYODO_PAGE_LEAK" not in os.environ
        assert sys.path == path and os.getcwd() == cwd
        _emit()  # not an error any more, and shown again: the registry was cleared
        assert len(shown) == 2


def test_restore_before_save_is_an_error(saved_state):
    with pytest.raises(RuntimeError, match="before save"):
        kernel_state.restore()


LEAKY = [
    "import os, warnings\nimport matplotlib as mpl\nimport numpy as np",
    "print('pid', os.getpid())",
    "print('leftover' in globals(), os.environ.get('KYODO_PAGE_LEAK'), mpl.rcParams['font.size'],"
    " np.geterr()['divide'], len(mpl.pyplot.get_fignums()) if hasattr(mpl, 'pyplot') else 0)",
    "warnings.warn('shown on every page')",
    "leftover = 1\nos.environ['KYODO_PAGE_LEAK'] = 'yes'\nmpl.rcParams['font.size'] = 31\n"
    "np.seterr(divide='raise')\nimport matplotlib.pyplot as plt\nplt.figure()\nprint(x)",
]


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                          "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def _outputs(path: Path) -> tuple[str | None, list[str]]:
    """(the kernel's pid, every code cell's outputs with the pid and object addresses out)."""
    nb = nbformat.read(path, as_version=4)
    texts = [json.dumps(c.outputs, sort_keys=True) for c in nb.cells if c.cell_type == "code"]
    pid = next((m.group(1) for t in texts for m in [re.search(r"pid (\d+)", t)] if m), None)
    clean = [re.sub(r"pid \d+|0x[0-9a-f]+|T_[0-9a-f]{5}|ipykernel_\d+", "#", t) for t in texts]
    return pid, clean


def test_pages_share_a_kernel_and_start_from_a_fresh_state(tmp_path):
    source = _notebook(tmp_path / "leaky.ipynb", LEAKY)
    failing = _notebook(tmp_path / "failing.ipynb", ["import os\nprint('pid', os.getpid())",
                                                     "raise ValueError('on purpose')"])
    try:
        runs = []
        for i in range(3):
            result = runner.execute_notebook(source, tmp_path / f"kept{i}.ipynb", {"x": 5},
                                             keep_kernel=True)
            assert result.ok, result.describe()
            runs.append(_outputs(tmp_path / f"kept{i}.ipynb"))
        broken = runner.execute_notebook(failing, tmp_path / "broken.ipynb", {}, keep_kernel=True)
        assert broken.status == "failed" and broken.cell == 3
        after = runner.execute_notebook(source, tmp_path / "after.ipynb", {"x": 5}, keep_kernel=True)
        assert after.ok
        fresh = runner.execute_notebook(source, tmp_path / "fresh.ipynb", {"x": 5})
        assert fresh.ok, fresh.describe()
        alone = _outputs(tmp_path / "fresh.ipynb")
        assert runs[0][0] == runs[1][0] == runs[2][0] != alone[0]  # one kernel for the three
        assert runs[0][1] == runs[1][1] == runs[2][1] == alone[1]  # and the same outputs
        shown = "".join(runs[2][1])
        assert "False None 10.0 warn 0" in shown and "shown on every page" in shown
        # the failing page ran in the kept kernel, and ended it: the next page had a new one
        assert _outputs(tmp_path / "broken.ipynb")[0] == runs[0][0]
        assert _outputs(tmp_path / "after.ipynb")[0] not in (None, runs[0][0])
        assert _outputs(tmp_path / "after.ipynb")[1] == alone[1]
    finally:
        runner._drop_all_kernels()
    assert not runner._kept


@pytest.mark.slow
def test_report_pages_are_the_same_in_a_kept_kernel_as_in_their_own(demo_study, tmp_path):
    """Three district pages of the demo, one kernel for all vs a kernel each: the published
    tables are byte for byte the same, and so is every output of every cell (object addresses
    and pandas' random style ids aside, which differ between any two runs)."""
    units = demo_study.district_units()[-3:]
    source = notebook_dir() / "04_district.ipynb"

    def run(kind: str, keep: bool) -> list[tuple[list[str], dict[str, bytes]]]:
        out = []
        (tmp_path / kind).mkdir()
        for i, (level, district) in enumerate(units):
            tables = tmp_path / kind / f"t{i}"
            result = runner.execute_notebook(
                source, tmp_path / kind / f"p{i}.ipynb",
                {"study": str(demo_study.path), "fiscal_year": 2025, "output_dir": str(tables),
                 "level": level, "district": district}, keep_kernel=keep)
            assert result.ok, result.describe()
            files = {p.relative_to(tables).as_posix(): p.read_bytes()
                     for p in sorted(tables.rglob("*")) if p.is_file()}
            out.append((_outputs(tmp_path / kind / f"p{i}.ipynb")[1], files))
        return out

    try:
        kept = run("kept", True)
    finally:
        runner._drop_all_kernels()
    own = run("own", False)
    assert all(files for _, files in own)
    assert kept == own
