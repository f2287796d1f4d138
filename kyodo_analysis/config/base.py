"""Shared pieces of the typed configuration: the model base, value types, error translation.

Every configuration document (study.yaml, and the blocks inside it) is a pydantic model with
``extra="forbid"``: an unknown key is an error naming its path (with a did-you-mean), never
silently dropped. :func:`parse_document` turns pydantic's errors into one
:class:`~kyodo_analysis.errors.ConfigError` naming the file, the key path, the value and what
was expected.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from kyodo_analysis import yamlio
from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.errors import ConfigError

__all__ = ["FiscalYear", "Model", "Slug", "check_keys", "parse_document", "read_yaml"]

M = TypeVar("M", bound=BaseModel)


class Model(BaseModel):
    """Base of every configuration block: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _fiscal_year(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a fiscal year such as 2025, FY2025, 令和7年度 or R7")
    try:
        return parse_fiscal_year(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a fiscal year such as 2025, FY2025, 令和7年度 or R7, "
                         f"got {value!r}") from None


#: A fiscal year written any way the city writes one (2025, FY2025, 令和7年度, R7, 2025年度).
FiscalYear = Annotated[int, BeforeValidator(_fiscal_year)]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _slug(value: object) -> str:
    text = str(value)
    if not _SLUG.fullmatch(text):  # fullmatch: "$" alone would let a trailing newline in
        raise ValueError("expected a short name of lower-case ASCII letters, digits, '-' and '_' "
                         f"(it names folders), got {value!r}")
    return text


#: A study name used in paths: no separators, no ``..``, nothing outside ``[a-z0-9_-]``.
Slug = Annotated[str, BeforeValidator(_slug)]


def read_yaml(path: str | Path, *, what: str) -> Any:
    """Read one YAML file (UTF-8, BOM allowed) with the safe loader; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found", file=str(path))
    try:
        return yamlio.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yamlio.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} is not valid UTF-8 YAML: {exc}", file=str(path)) from None


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model accepts at ``loc`` (the path of an unknown key's parent)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            current = None
            break
        current = _model_in(fields[part].annotation)
    fields = getattr(current, "model_fields", None) or {}
    return [f.alias or name for name, f in fields.items()]


def _model_in(annotation: Any) -> Any:
    """The first pydantic model inside a (possibly Optional/list/dict) annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def unknown_key_message(key: object, allowed: list[str]) -> str:
    """「unknown key 'x'; did you mean 'y'? (allowed here: ...)」 for a key not in ``allowed``."""
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (allowed here: {', '.join(allowed)})"


def check_keys(mapping: Any, allowed: list[str], *, key: str,
               fail: Callable[[str, str], Exception]) -> None:
    """Raise ``fail(key path, message)`` for the first key of ``mapping`` outside ``allowed``
    (for the hand-written validators of the codebook and the indicator registry)."""
    if not isinstance(mapping, dict):
        return
    for k in mapping:
        if str(k) not in allowed:
            raise fail(f"{key}.{k}" if key else str(k), unknown_key_message(k, allowed))


def parse_document(model: type[M], doc: Any, *, file: str | None) -> M:
    """Validate a parsed YAML document against ``model``; the first problem is a ConfigError.

    The message names the key path (``waves[2].fiscal_year``), the value found and what was
    expected; an unknown key gets the closest known key as a suggestion.
    """
    if not isinstance(doc, dict):
        raise ConfigError(f"expected a mapping of keys, got {type(doc).__name__}", file=file)
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = _key_path(loc)
        if err["type"] == "extra_forbidden":
            raise ConfigError(unknown_key_message(loc[-1], _allowed_keys(model, loc[:-1])),
                              file=file, key=key) from None
        if err["type"] == "missing":
            raise ConfigError("required key is missing", file=file, key=key) from None
        message = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
        if shown and repr(value) in message:
            shown = ""
        raise ConfigError(f"{message}{shown}", file=file, key=key) from None
