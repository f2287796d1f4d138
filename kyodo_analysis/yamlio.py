"""Reading YAML: every document the package reads (study.yaml, codebook, indicators) goes here.

PyYAML's safe loader, on libyaml's C parser where the installed PyYAML has it (the wheels
do): the same documents, about ten times faster, which every notebook kernel feels since each
one reads the study again.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["YAMLError", "safe_load"]

YAMLError = yaml.YAMLError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load`` of ``text`` (plain data only: no Python objects are ever built)."""
    return yaml.load(text, Loader=_LOADER)
