"""The interpreter state a report page may change, saved in a fresh kernel and restored
between pages when one kernel runs several pages (:mod:`kyodo_analysis.reporting.runner`).

A page is a function of its notebook, its parameters and the study's data. When a worker
keeps its kernel for the next page (to save the interpreter start and the imports of numpy,
pandas, matplotlib and kyodo_analysis, about 3 s of CPU per page), the next page must start
from the state a fresh kernel would give it. :func:`prepare` (the imports) and :func:`save`
run once in a new kernel, in two cells; :func:`restore` runs before every later page and puts
back everything a page can change without meaning to:

* the IPython session: user namespace, output cache and history (``reset(new_session=True)``);
* matplotlib: open figures closed, ``rcParams`` as saved (a page's style changes go);
* warnings: the filters as saved, and the "already shown" registries cleared, so a warning a
  page triggers is shown on every page that triggers it, not only on the first;
* numpy's error handling and print options, numpy's and Python's global random states;
* ``os.environ``, ``sys.path`` and the working directory.

Imported modules stay imported (that is the saving); the package keeps no caches at module
level whose content depends on a page (checked by ``tests/test_kernel_reuse.py``, which runs
pages in one kernel and in fresh kernels and compares every output).
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from typing import Any

__all__ = ["prepare", "restore", "save"]

_saved: dict[str, Any] | None = None


def prepare() -> None:
    """Import the libraries every page imports, in a fresh kernel, before :func:`save`.

    Matplotlib loads its backend at the first figure, and the kernel's inline backend then
    switches on IPython's matplotlib integration (interactive mode, the hooks that show a
    cell's figures). Loading it here, before the state is saved, makes every page start with
    it on, the first page of a kernel as much as the later ones.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    import pandas  # noqa: F401

    plt.switch_backend(mpl.get_backend())

    import kyodo_analysis.views  # noqa: F401


def save() -> None:
    """Record the state of this kernel, prepared by :func:`prepare` in an earlier cell."""
    global _saved
    import matplotlib as mpl
    import numpy as np

    _saved = {
        "rc": mpl.rcParams.copy(),
        "filters": list(warnings.filters),
        "seterr": np.geterr(),
        "print": np.get_printoptions(),
        "np_random": np.random.get_state(),  # noqa: NPY002 - the legacy global state a page may seed
        "random": random.getstate(),
        "environ": dict(os.environ),
        "path": list(sys.path),
        "cwd": os.getcwd(),
    }


def restore() -> None:
    """Put the kernel back in the state :func:`save` recorded (see the module's docstring)."""
    if _saved is None:
        raise RuntimeError("kernel_state.restore() before save()")
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    import numpy as np
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)
    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # restoring deprecated keys must not warn
        mpl.rcParams.update(_saved["rc"])
    warnings.resetwarnings()  # also marks every module's "already shown" registry stale
    warnings.filters[:] = _saved["filters"]
    np.seterr(**_saved["seterr"])
    np.set_printoptions(**_saved["print"])
    np.random.set_state(_saved["np_random"])  # noqa: NPY002
    random.setstate(_saved["random"])
    os.environ.clear()
    os.environ.update(_saved["environ"])
    sys.path[:] = _saved["path"]
    os.chdir(_saved["cwd"])
