"""Codebook: what each survey column means.

A codebook (``codebook.yaml``) lists every question with its Japanese text, type, value codes
and labels, missing codes (無回答, 非該当) and the header names the question has in raw files.
Loading validates it: a malformed codebook raises :class:`~kyodo_analysis.errors.ConfigError`
naming the key and the problem.

Keys beyond codes and labels
----------------------------
``not_applicable: [8]``
    Top level (and per question): the missing codes that mean 非該当 (the question was not
    asked of this respondent). Tabulations leave these rows out of the base; skip-rule checks
    flag them for respondents the question applied to. ``not_applicable: []`` declares none;
    a codebook without the key (written before it existed) treats missing codes labelled
    「非該当」 as such.
``aliases: {板山: [板山小学校区, 板山小], 2: [いたやま]}``
    Per question: other spellings of a label (or of a code's label). Cells, labels and aliases
    are compared after :func:`~kyodo_analysis.io.normalise.fold_label` (NFKC, case folded,
    every space removed), so 「板山 」 and 「ｲﾀﾔﾏ」 need no alias of their own.
``waves: [2023, 2024]``
    Per question: the fiscal years in which it was asked. In other waves its column may be
    absent (and is ignored if present) and its values are missing.
``derived:``
    Top level: variables recoded from a question at validation time and stored like
    questions: ``bins`` (closed intervals of a numeric source, ``null`` = open end) or ``map``
    (new code <- source codes or labels).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kyodo_analysis import yamlio
from kyodo_analysis.calendar import parse_fiscal_year
from kyodo_analysis.config.base import check_keys
from kyodo_analysis.errors import ConfigError
from kyodo_analysis.io.normalise import fold_label

if TYPE_CHECKING:
    from kyodo_analysis.config.awareness import AwarenessSpec

__all__ = ["Codebook", "Derivation", "Option", "Question", "Scale"]

QuestionType = Literal["single", "multiple", "likert", "numeric", "text", "demographic", "design",
                       "date"]
_TYPES = {"single", "multiple", "likert", "numeric", "text", "demographic", "design", "date"}


@dataclass(frozen=True)
class Scale:
    """A reusable answer scale: codes with labels, and optional scores (e.g. +2 … −2)."""

    name: str
    codes: dict[int, str]
    scores: dict[int, float] | None = None
    dont_know: tuple[int, ...] = ()


@dataclass(frozen=True)
class Option:
    """One option of a multiple-response question, stored as its own 0/1 column."""

    code: int
    label: str
    columns: tuple[str, ...]
    exclusive: bool = False


@dataclass(frozen=True)
class Derivation:
    """How a derived variable is computed from its source column.

    ``bins`` holds ``(code, low, high)`` closed intervals (``None`` = open end) of a numeric
    source; ``mapping`` maps source codes to the new code. Exactly one of them is set.
    """

    source: str
    bins: tuple[tuple[int, float | None, float | None], ...] = ()
    mapping: dict[int, int] = field(default_factory=dict)


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
    aliases: dict[str, int] = field(default_factory=dict)
    waves: tuple[int, ...] | None = None
    not_applicable: tuple[int, ...] = ()
    derivation: Derivation | None = None
    sensitive: bool = False
    comparable_from: int | None = None
    # partner bundles (#17): a key variable of k-anonymity (年代, 性別, 小学校区, ...)
    quasi_identifier: bool = False
    reverse: bool = False
    dont_know: tuple[int, ...] = ()

    @property
    def is_multiple(self) -> bool:
        return self.type == "multiple"

    @property
    def is_derived(self) -> bool:
        return self.derivation is not None

    def asked_in(self, fiscal_year: int | None) -> bool:
        """Whether the question was asked in ``fiscal_year`` (``None``: unknown, so yes)."""
        return self.waves is None or fiscal_year is None or fiscal_year in self.waves

    def lookup(self) -> dict[str, int]:
        """Every spelling a cell may use for a code: folded labels (missing codes included;
        option labels for a multiple-response question) and aliases -> code."""
        labels = ({o.code: o.label for o in self.options} if self.is_multiple
                  else {**self.codes, **self.missing})
        out = {fold_label(v): k for k, v in labels.items()}
        out.update(self.aliases)
        return out

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
    awareness: AwarenessSpec | None = None

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
            if q.is_derived:
                continue
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
        """Raw header names whose cells are text (id, free text, dates): never parsed as
        numbers."""
        return {k for k, v in self.header_aliases().items()
                if v == "id" or (v in self and self[v].type in {"text", "date"})}

    @property
    def derived(self) -> tuple[Question, ...]:
        """The derived variables (``derived:``), in the order they are computed."""
        return tuple(q for q in self.questions if q.is_derived)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Codebook:
        """Load and validate a codebook file."""
        path = Path(path)
        try:
            raw_bytes = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read codebook: {exc.strerror}", file=str(path)) from None
        try:
            doc = yamlio.safe_load(raw_bytes.decode("utf-8-sig"))
        except (yamlio.YAMLError, UnicodeDecodeError) as exc:
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
        check_keys(doc, _KEYS["top"], key="", fail=fail)
        for block in ("id", "fiscal_year"):
            check_keys(doc.get(block), ["columns"], key=block, fail=fail)
        scales = {}
        for name, body in (doc.get("scales") or {}).items():
            check_keys(body, _KEYS["scale"], key=f"scales.{name}", fail=fail)
            codes = _code_map(body.get("codes") if isinstance(body, Mapping) else None,
                              f"scales.{name}.codes", fail)
            scores = body.get("scores")
            scale_dk = _code_list(body.get("dont_know"), f"scales.{name}.dont_know", fail)
            stray_dk = sorted(set(scale_dk) - set(codes))
            if stray_dk:
                raise fail(f"scales.{name}.dont_know", f"codes {stray_dk} are not codes of the scale")
            scales[name] = Scale(name, codes, _code_map(scores, f"scales.{name}.scores", fail,
                                                         value_type=float) if scores else None,
                                 dont_know=scale_dk)
        global_missing = _code_map(doc.get("missing_codes") or {}, "missing_codes", fail)
        global_na = (_code_list(doc["not_applicable"], "not_applicable", fail)
                     if "not_applicable" in doc else None)
        # A code declared 非該当 must be a missing code somewhere: of the whole codebook or of a
        # question (a 非該当 code often exists only where a skip rule applies).
        local_missing = {int(k) for q in (doc.get("questions") or []) if isinstance(q, Mapping)
                         for k in (q.get("missing") or {}) if str(k).lstrip("-").isdigit()}
        unknown_na = sorted(set(global_na or ()) - set(global_missing) - local_missing)
        if unknown_na:
            raise fail("not_applicable", f"codes {unknown_na} are not missing codes "
                                         "(missing_codes, or a question's missing)")
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
            check_keys(q, _KEYS["question"], key=key, fail=fail)
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
            if "not_applicable" in q:
                not_applicable = _code_list(q["not_applicable"], f"{key}.not_applicable", fail)
                stray = sorted(set(not_applicable) - set(missing))
                if stray:
                    raise fail(f"{key}.not_applicable",
                               f"codes {stray} are not missing codes of {qid!r}")
            else:
                not_applicable = _default_not_applicable(global_na, missing)
            options = ()
            if qtype == "multiple":
                raw_opts = q.get("options")
                for j, o in enumerate(raw_opts if isinstance(raw_opts, list) else []):
                    check_keys(o, _KEYS["option"], key=f"{key}.options[{j}]", fail=fail)
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
            labels = ({o.code: o.label for o in options} if qtype == "multiple"
                      else {**codes, **missing})
            aliases = _aliases(q.get("aliases"), labels, f"{key}.aliases", fail)
            dont_know = (_code_list(q["dont_know"], f"{key}.dont_know", fail) if "dont_know" in q
                         else scale.dont_know if scale else ())
            stray_dk = sorted(set(dont_know) - set(codes))
            if stray_dk:
                raise fail(f"{key}.dont_know", f"codes {stray_dk} are not answer codes of {qid!r}")
            reverse = q.get("reverse", False)
            if not isinstance(reverse, bool):
                raise fail(f"{key}.reverse", f"reverse must be true or false, got {reverse!r}")
            questions.append(Question(
                id=qid, text=str(q.get("text", "")), type=qtype,
                columns=tuple(q.get("columns") or ()), codes=codes, missing=missing,
                scores=scale.scores if scale else None, options=options,
                asked_if=dict(asked_if) if asked_if else None, policy=q.get("policy"),
                layout=layout, max_choices=max_choices, range=value_range, aliases=aliases,
                waves=_waves(q["waves"], f"{key}.waves", fail) if "waves" in q else None,
                not_applicable=not_applicable, sensitive=bool(q.get("sensitive", False)),
                comparable_from=(parse_fiscal_year(q["comparable_from"])
                                 if q.get("comparable_from") is not None else None),
                quasi_identifier=_flag(q, "quasi_identifier", f"{key}.quasi_identifier", fail),
                reverse=reverse, dont_know=dont_know,
            ))
        questions += _derived(doc.get("derived"), questions, global_missing, global_na, fail)
        fy_spec = doc.get("fiscal_year") or {}
        book = cls(title=str(doc.get("codebook", "")), questions=tuple(questions),
                   id_columns=id_columns, scales=scales, source=source,
                   fiscal_year_columns=tuple(fy_spec.get("columns") or ()))
        if doc.get("awareness") is not None:
            from kyodo_analysis.config.awareness import parse_awareness

            book = replace(book, awareness=parse_awareness(doc["awareness"], book, fail))
        columns = set(book.header_aliases().values()) | {q.id for q in book.derived}
        for i, q in enumerate(book.questions):
            if q.asked_if and q.asked_if["column"] not in columns:
                raise fail(f"questions[{i}] ({q.id}).asked_if",
                           f"condition refers to unknown column {q.asked_if['column']!r}")
        return book


#: The keys each block of a codebook may have (anything else is a typo, and an error).
_KEYS = {
    "top": ["codebook", "version", "id", "fiscal_year", "missing_codes", "not_applicable",
            "scales", "questions", "derived", "awareness"],
    "scale": ["codes", "scores", "dont_know"],
    "question": ["id", "columns", "text", "type", "codes", "scale", "missing", "not_applicable",
                 "aliases", "waves", "options", "layout", "max_choices", "range", "asked_if",
                 "policy", "sensitive", "comparable_from", "quasi_identifier", "reverse",
                 "dont_know"],
    "option": ["code", "label", "columns", "exclusive"],
    "derived": ["id", "from", "text", "type", "codes", "bins", "map", "missing"],
}


def _flag(q: Mapping, name: str, key: str, fail) -> bool:
    """A true/false key of a question (partner bundles: ``quasi_identifier``)."""
    value = q.get(name, False)
    if not isinstance(value, bool):
        raise fail(key, f"{name} must be true or false, got {value!r}")
    return value


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


def _default_not_applicable(declared: tuple[int, ...] | None,
                            missing: dict[int, str]) -> tuple[int, ...]:
    """A question's 非該当 codes without a declaration of its own: the top-level declaration's
    codes among its missing codes; with no top-level ``not_applicable`` key at all (codebooks
    written before the key existed), its missing codes labelled 「非該当」."""
    if declared is None:
        return tuple(c for c, label in missing.items() if fold_label(label) == "非該当")
    return tuple(c for c in declared if c in missing)


def _code_list(value: object, key: str, fail) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        value = [value]
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise fail(key, f"expected a list of integer codes, got {value!r}") from None


def _waves(value: object, key: str, fail) -> tuple[int, ...]:
    from kyodo_analysis.calendar import parse_fiscal_year

    if not isinstance(value, list) or not value:
        raise fail(key, "waves must be a non-empty list of fiscal years")
    try:
        return tuple(sorted({parse_fiscal_year(v) for v in value}))
    except ValueError as exc:
        raise fail(key, str(exc)) from None


def _resolve(key: object, labels: dict[int, str]) -> int | None:
    """The code a codebook entry names, by label (folded) or by code; ``None`` if neither."""
    folded = fold_label(key)
    by_label = {fold_label(v): k for k, v in labels.items()}
    if folded in by_label:
        return by_label[folded]
    try:
        code = int(str(key).strip())
    except ValueError:
        return None
    return code if code in labels else None


def _aliases(value: object, labels: dict[int, str], key: str, fail) -> dict[str, int]:
    """Folded spelling -> code; conflicts raise :class:`ConfigError` naming both labels."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(key, "aliases must be a mapping of label (or code): [other spellings]")
    by_label = {fold_label(v): k for k, v in labels.items()}
    out: dict[str, int] = {}
    for target, spellings in value.items():
        code = _resolve(target, labels)
        if code is None:
            raise fail(f"{key}.{target}", f"alias key {target!r} is not a label or code of "
                       f"the question (labels: {', '.join(labels.values())})")
        if isinstance(spellings, str):
            spellings = [spellings]
        if not isinstance(spellings, list) or not spellings:
            raise fail(f"{key}.{target}", "expected a list of spellings")
        for spelling in spellings:
            folded = fold_label(spelling)
            if not folded:
                raise fail(f"{key}.{target}", "an alias cannot be blank")
            other = by_label.get(folded, out.get(folded))
            if other is not None and other != code:
                what = "another label" if folded in by_label else "an alias of another label"
                raise fail(f"{key}.{target}",
                           f"alias {spelling!r} of 「{labels[code]}」 is also {what}: "
                           f"「{labels[other]}」")
            out[folded] = code
    return out


def _derived(value: object, questions: list[Question], global_missing: dict[int, str],
             global_na: tuple[int, ...], fail) -> list[Question]:
    """The ``derived:`` entries as questions carrying their :class:`Derivation`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail("derived", "derived must be a list of variables")
    known = {q.id: q for q in questions}
    out: list[Question] = []
    for i, d in enumerate(value):
        key = f"derived[{i}]"
        if not isinstance(d, Mapping) or "id" not in d:
            raise fail(key, "each derived variable needs an 'id'")
        check_keys(d, _KEYS["derived"], key=key, fail=fail)
        did = str(d["id"])
        key = f"derived[{i}] ({did})"
        if did in known:
            raise fail(key, f"derived id {did!r} is already the id of a question")
        source = known.get(str(d.get("from")))
        if source is None:
            raise fail(f"{key}.from", f"unknown source question {d.get('from')!r}")
        if source.type in {"text", "multiple", "date"}:
            raise fail(f"{key}.from", f"cannot derive from a {source.type} question")
        qtype = d.get("type", "demographic")
        if qtype not in _TYPES - {"text", "multiple", "date", "numeric"}:
            raise fail(f"{key}.type", f"a derived variable is coded; got type {qtype!r}")
        codes = _code_map(d.get("codes"), f"{key}.codes", fail)
        missing = (_code_map(d["missing"], f"{key}.missing", fail) if "missing" in d
                   else dict(global_missing))
        if set(codes) & set(missing):
            raise fail(key, f"codes {sorted(set(codes) & set(missing))} are both substantive "
                       "and missing codes")
        if ("bins" in d) == ("map" in d):
            raise fail(key, "a derived variable needs exactly one of 'bins' or 'map'")
        if "bins" in d:
            derivation = Derivation(source.id, bins=_bins(d["bins"], codes, f"{key}.bins", fail))
        else:
            derivation = Derivation(source.id, mapping=_mapping(d["map"], codes, source,
                                                                f"{key}.map", fail))
        q = Question(id=did, text=str(d.get("text", "")), type=qtype, codes=codes,
                     missing=missing, not_applicable=_default_not_applicable(global_na, missing),
                     waves=source.waves, derivation=derivation)
        known[did] = q
        out.append(q)
    return out


def _derived_code(code: object, codes: dict[int, str], key: str, fail) -> int:
    """A key of ``bins``/``map`` as one of the derived variable's codes (ConfigError if not)."""
    try:
        number = int(code)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise fail(key, f"code {code!r} must be an integer") from None
    if number not in codes:
        raise fail(f"{key}.{number}", f"code {number} is not in the derived variable's codes")
    return number


def _bins(value: object, codes: dict[int, str], key: str, fail):
    if not isinstance(value, Mapping) or not value:
        raise fail(key, "bins must be a mapping of code: [low, high]")
    bins = []
    for code, interval in value.items():
        code = _derived_code(code, codes, key, fail)
        if (not isinstance(interval, list) or len(interval) != 2
                or not all(v is None or isinstance(v, (int, float)) for v in interval)):
            raise fail(f"{key}.{code}", "a bin is [low, high] (null for an open end)")
        low, high = (None if v is None else float(v) for v in interval)
        if low is not None and high is not None and low > high:
            raise fail(f"{key}.{code}", f"bin [{low:g}, {high:g}] has low > high")
        bins.append((code, low, high))
    ordered = sorted(bins, key=lambda b: -float("inf") if b[1] is None else b[1])
    for (c1, _, h1), (c2, l2, _) in itertools.pairwise(ordered):
        if h1 is None or l2 is None or h1 >= l2:
            raise fail(key, f"bins of codes {c1} ({codes[c1]}) and {c2} ({codes[c2]}) overlap")
    return tuple(bins)


def _mapping(value: object, codes: dict[int, str], source: Question, key: str,
             fail) -> dict[int, int]:
    if not isinstance(value, Mapping) or not value:
        raise fail(key, "map must be a mapping of new code: [source codes or labels]")
    labels = {**source.codes, **source.missing}
    out: dict[int, int] = {}
    for code, froms in value.items():
        code = _derived_code(code, codes, key, fail)
        for f in froms if isinstance(froms, list) else [froms]:
            src = _resolve(f, labels)
            if src is None and fold_label(f) in source.aliases:
                src = source.aliases[fold_label(f)]
            if src is None:
                raise fail(f"{key}.{code}", f"{f!r} is not a code or label of {source.id!r}")
            if src in out and out[src] != code:
                raise fail(f"{key}.{code}", f"source code {src} ({labels[src]}) is mapped to "
                           f"both {out[src]} and {code}")
            out[src] = code
    return out
