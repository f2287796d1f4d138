"""Codebook: what each survey column means.

A codebook (``codebook.yaml``) lists every question with its Japanese text, type, value codes
and labels, missing codes (無回答, 非該当) and the header names the question has in raw files.
Loading validates it: a malformed codebook raises :class:`~kyodo_analysis.errors.ConfigError`
naming the key and the problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import yaml

from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.errors import ConfigError

__all__ = ["Codebook", "Option", "Question", "Scale"]

QuestionType = Literal["single", "multiple", "likert", "numeric", "text", "demographic", "design"]
_TYPES = {"single", "multiple", "likert", "numeric", "text", "demographic", "design"}


@dataclass(frozen=True)
class Scale:
    """A reusable answer scale: codes with labels, and optional scores (e.g. +2 … −2)."""

    name: str
    codes: dict[int, str]
    scores: dict[int, float] | None = None


@dataclass(frozen=True)
class Option:
    """One option of a multiple-response question, stored as its own 0/1 column."""

    code: int
    label: str
    columns: tuple[str, ...]
    exclusive: bool = False


@dataclass(frozen=True)
class Question:
    """One question (or design variable) of the survey."""

    id: str
    text: str
    type: QuestionType
    columns: tuple[str, ...] = ()
    codes: dict[int, str] = field(default_factory=dict)
    missing: dict[int, str] = field(default_factory=dict)
    scores: dict[int, float] | None = None
    options: tuple[Option, ...] = ()
    asked_if: dict | None = None
    policy: str | None = None
    layout: Literal["columns", "delimited"] = "columns"
    max_choices: int | None = None
    range: tuple[float, float] | None = None
    sensitive: bool = False
    comparable_from: int | None = None

    @property
    def is_multiple(self) -> bool:
        return self.type == "multiple"

    @property
    def option_ids(self) -> list[str]:
        """Canonical column ids of a multiple-response question's options (``q3_1``, …)."""
        return [f"{self.id}_{o.code}" for o in self.options]

    def label(self, code: int) -> str:
        """Japanese label of ``code`` (substantive or missing)."""
        if code in self.codes:
            return self.codes[code]
        if code in self.missing:
            return self.missing[code]
        raise KeyError(f"question {self.id}: code {code} is not in the codebook")


@dataclass(frozen=True)
class Codebook:
    """All questions of a survey, in questionnaire order."""

    title: str
    questions: tuple[Question, ...]
    id_columns: tuple[str, ...]
    scales: dict[str, Scale]
    sha256: str = ""
    source: str | None = None
    fiscal_year_columns: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def __getitem__(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(f"no question {qid!r} in codebook {self.title!r}")

    def __contains__(self, qid: object) -> bool:
        return any(q.id == qid for q in self.questions)

    def header_aliases(self) -> dict[str, str]:
        """Map every raw header name (and canonical id) to the canonical column id."""
        aliases = {c: "id" for c in self.id_columns}
        aliases["id"] = "id"
        aliases.update({c: "fiscal_year" for c in self.fiscal_year_columns})
        for q in self.questions:
            if q.is_multiple and q.layout == "delimited":
                aliases.update({c: q.id for c in q.columns})
                aliases[q.id] = q.id
            elif q.is_multiple:
                for o, oid in zip(q.options, q.option_ids, strict=True):
                    aliases.update({c: oid for c in o.columns})
                    aliases[oid] = oid
            else:
                aliases.update({c: q.id for c in q.columns})
                aliases[q.id] = q.id
        return aliases

    def text_headers(self) -> set[str]:
        """Raw header names whose cells are text (id and free text): never parsed as numbers."""
        return {k for k, v in self.header_aliases().items()
                if v == "id" or (v in self and self[v].type == "text")}

    @classmethod
    def from_yaml(cls, path: str | Path) -> Codebook:
        """Load and validate a codebook file."""
        path = Path(path)
        try:
            raw_bytes = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read codebook: {exc.strerror}", file=str(path)) from None
        try:
            doc = yaml.safe_load(raw_bytes.decode("utf-8-sig"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"codebook is not valid UTF-8 YAML: {exc}", file=str(path)) from None
        book = cls.from_dict(doc, source=str(path))
        return replace(book, sha256=hashlib.sha256(raw_bytes).hexdigest())

    @classmethod
    def from_dict(cls, doc: object, *, source: str | None = None) -> Codebook:
        """Build a codebook from its parsed YAML mapping, validating every key."""

        def fail(key: str, problem: str) -> ConfigError:
            return ConfigError(problem, file=source, key=key)

        if not isinstance(doc, Mapping):
            raise fail("(top level)", "codebook must be a mapping")
        scales = {}
        for name, body in (doc.get("scales") or {}).items():
            codes = _code_map(body.get("codes") if isinstance(body, Mapping) else None,
                              f"scales.{name}.codes", fail)
            scores = body.get("scores")
            scales[name] = Scale(name, codes, _code_map(scores, f"scales.{name}.scores", fail,
                                                         value_type=float) if scores else None)
        global_missing = _code_map(doc.get("missing_codes") or {}, "missing_codes", fail)
        id_spec = doc.get("id") or {}
        id_columns = tuple(id_spec.get("columns") or ())
        raw_questions = doc.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            raise fail("questions", "codebook needs a non-empty list of questions")
        questions, seen = [], set()
        for i, q in enumerate(raw_questions):
            key = f"questions[{i}]"
            if not isinstance(q, Mapping) or "id" not in q:
                raise fail(key, "each question needs an 'id'")
            qid = str(q["id"])
            key = f"questions[{i}] ({qid})"
            if qid in seen:
                raise fail(key, f"duplicate question id {qid!r}")
            seen.add(qid)
            qtype = q.get("type")
            if qtype not in _TYPES:
                raise fail(f"{key}.type", f"type must be one of {sorted(_TYPES)}, got {qtype!r}")
            scale = None
            if "scale" in q:
                if q["scale"] not in scales:
                    raise fail(f"{key}.scale", f"unknown scale {q['scale']!r}")
                scale = scales[q["scale"]]
            codes = (_code_map(q["codes"], f"{key}.codes", fail) if "codes" in q
                     else dict(scale.codes) if scale else {})
            if qtype in {"single", "likert"} and not codes:
                raise fail(key, f"a {qtype} question needs 'codes' or a 'scale'")
            missing = (_code_map(q["missing"], f"{key}.missing", fail) if "missing" in q
                       else dict(global_missing))
            clash = set(codes) & set(missing)
            if clash:
                raise fail(key, f"codes {sorted(clash)} are both substantive and missing codes")
            options = ()
            if qtype == "multiple":
                raw_opts = q.get("options")
                if not isinstance(raw_opts, list) or not raw_opts:
                    raise fail(f"{key}.options", "a multiple-response question needs options")
                options = tuple(
                    Option(int(o["code"]), str(o["label"]), tuple(o.get("columns") or ()),
                           bool(o.get("exclusive", False)))
                    for o in raw_opts
                )
            layout = q.get("layout", "columns")
            if layout not in {"columns", "delimited"}:
                raise fail(f"{key}.layout", f"layout must be 'columns' or 'delimited', got {layout!r}")
            max_choices = q.get("max_choices")
            if max_choices is not None and (not isinstance(max_choices, int) or max_choices < 1):
                raise fail(f"{key}.max_choices", "max_choices must be a positive integer")
            value_range = q.get("range")
            if value_range is not None:
                if (not isinstance(value_range, list) or len(value_range) != 2
                        or not all(isinstance(v, (int, float)) for v in value_range)
                        or value_range[0] > value_range[1]):
                    raise fail(f"{key}.range", "range must be [min, max] with min <= max")
                value_range = (float(value_range[0]), float(value_range[1]))
            asked_if = q.get("asked_if")
            if asked_if is not None and (not isinstance(asked_if, Mapping)
                                         or set(asked_if) != {"column", "equals"}):
                raise fail(f"{key}.asked_if", "asked_if needs exactly 'column' and 'equals'")
            questions.append(Question(
                id=qid, text=str(q.get("text", "")), type=qtype,
                columns=tuple(q.get("columns") or ()), codes=codes, missing=missing,
                scores=scale.scores if scale else None, options=options,
                asked_if=dict(asked_if) if asked_if else None, policy=q.get("policy"),
                layout=layout, max_choices=max_choices, range=value_range,
                sensitive=bool(q.get("sensitive", False)),
                comparable_from=(parse_fiscal_year(q["comparable_from"])
                                 if q.get("comparable_from") is not None else None),
            ))
        fy_spec = doc.get("fiscal_year") or {}
        book = cls(title=str(doc.get("codebook", "")), questions=tuple(questions),
                   id_columns=id_columns, scales=scales, source=source,
                   fiscal_year_columns=tuple(fy_spec.get("columns") or ()))
        columns = set(book.header_aliases().values())
        for i, q in enumerate(book.questions):
            if q.asked_if and q.asked_if["column"] not in columns:
                raise fail(f"questions[{i}] ({q.id}).asked_if",
                           f"condition refers to unknown column {q.asked_if['column']!r}")
        return book


def _code_map(value: object, key: str, fail, *, value_type=str) -> dict:
    if not isinstance(value, Mapping):
        raise fail(key, "expected a mapping of code: label")
    out = {}
    for k, v in value.items():
        try:
            out[int(k)] = value_type(v)
        except (TypeError, ValueError):
            raise fail(key, f"code {k!r} must be an integer") from None
    return out
