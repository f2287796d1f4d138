"""The codebook's ``awareness:`` block: which items form scales, which are importance /
satisfaction pairs, what the drivers model explains and which items define segments.

Everything the awareness page (notebook 07) analyses is declared here, so the package holds
no question ids. Parsed by :meth:`kyodo_analysis.codebook.Codebook.from_dict`; every key is
checked (unknown keys are errors with a did-you-mean) and every question id must exist.

.. code-block:: yaml

    awareness:
      groups:
        - {id: attitudes, label: 協働への態度, items: [a1, a2, a3, a4, a5, a6]}
      importance_satisfaction:
        pairs:
          - {label: 協働について学ぶ機会, importance: q6_1, satisfaction: q5_1}
      drivers:
        outcomes:
          - {label: 活動に参加した, question: q3_6, codes: [0]}
        predictors:
          - {label: 関心がある, question: q2, codes: [1, 2]}
          - {label: 協働への態度（得点）, group: attitudes}
      segments: {group: attitudes, k: [2, 5]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kyodo_analysis.config.base import check_keys

if TYPE_CHECKING:
    from kyodo_analysis.codebook import Codebook

__all__ = ["AwarenessSpec", "DriverOutcome", "DriverPredictor", "ISPair", "ItemGroup",
           "SegmentSpec", "parse_awareness"]

_KEYS = {
    "top": ["groups", "importance_satisfaction", "drivers", "segments"],
    "group": ["id", "label", "items"],
    "is": ["pairs", "label"],
    "pair": ["label", "importance", "satisfaction"],
    "drivers": ["outcomes", "predictors"],
    "outcome": ["label", "question", "codes"],
    "predictor": ["label", "question", "codes", "group"],
    "segments": ["group", "k", "seed"],
}
_SCORED = {"likert", "single"}


@dataclass(frozen=True)
class ItemGroup:
    """Items meant to measure one thing (a scale): reliability, factors, segments."""

    id: str
    label: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ISPair:
    """One item of the 重要度・満足度 map: its importance and its satisfaction question."""

    label: str
    importance: str
    satisfaction: str


@dataclass(frozen=True)
class DriverOutcome:
    """A 0/1 outcome: ``question`` in ``codes`` (e.g. took part in any activity)."""

    label: str
    question: str
    codes: tuple[int, ...]


@dataclass(frozen=True)
class DriverPredictor:
    """A predictor: an indicator (``question`` in ``codes``) or a group's standardised score."""

    label: str
    question: str | None = None
    codes: tuple[int, ...] = ()
    group: str | None = None


@dataclass(frozen=True)
class SegmentSpec:
    """Segmentation of respondents on a group's items: the range of k tried, the seed."""

    group: str
    k: tuple[int, int] = (2, 5)
    seed: int = 0


@dataclass(frozen=True)
class AwarenessSpec:
    """The whole ``awareness:`` block."""

    groups: tuple[ItemGroup, ...] = ()
    pairs: tuple[ISPair, ...] = ()
    is_label: str = "項目"
    outcomes: tuple[DriverOutcome, ...] = ()
    predictors: tuple[DriverPredictor, ...] = ()
    segments: SegmentSpec | None = None

    def group(self, gid: str) -> ItemGroup:
        for g in self.groups:
            if g.id == gid:
                return g
        raise KeyError(f"no item group {gid!r}")


def _list(value: object, key: str, fail: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(key, "expected a list")
    return value


def _codes(value: object, key: str, fail: Any) -> tuple[int, ...]:
    vals = value if isinstance(value, list) else [value]
    try:
        out = tuple(int(v) for v in vals)
    except (TypeError, ValueError):
        raise fail(key, f"expected a list of integer codes, got {value!r}") from None
    if not out:
        raise fail(key, "expected at least one code")
    return out


def parse_awareness(doc: object, book: Codebook, fail: Any) -> AwarenessSpec:
    """Validate the ``awareness:`` block against the codebook's questions."""
    if not isinstance(doc, Mapping):
        raise fail("awareness", "awareness must be a mapping")
    check_keys(doc, _KEYS["top"], key="awareness", fail=fail)

    def question(qid: object, key: str, *, scored: bool = False) -> str:
        qid = str(qid)
        if qid not in book and qid not in _option_ids(book):
            raise fail(key, f"unknown question {qid!r}")
        if scored and (qid not in book or book[qid].type not in _SCORED):
            raise fail(key, f"{qid!r} is not a likert or single-answer question")
        return qid

    groups = []
    for i, g in enumerate(_list(doc.get("groups"), "awareness.groups", fail)):
        key = f"awareness.groups[{i}]"
        check_keys(g, _KEYS["group"], key=key, fail=fail)
        if not isinstance(g, Mapping) or "id" not in g:
            raise fail(key, "each group needs an 'id'")
        items = _list(g.get("items"), f"{key}.items", fail)
        if len(items) < 2:
            raise fail(f"{key}.items", "a group needs at least two items")
        groups.append(ItemGroup(str(g["id"]), str(g.get("label", g["id"])),
                                tuple(question(q, f"{key}.items", scored=True) for q in items)))
    ids = [g.id for g in groups]
    if len(set(ids)) != len(ids):
        raise fail("awareness.groups", "group ids must be unique")

    pairs, is_label = [], "項目"
    block = doc.get("importance_satisfaction")
    if block is not None:
        check_keys(block, _KEYS["is"], key="awareness.importance_satisfaction", fail=fail)
        is_label = str(block.get("label", is_label))
        for i, p in enumerate(_list(block.get("pairs"), "awareness.importance_satisfaction.pairs",
                                    fail)):
            key = f"awareness.importance_satisfaction.pairs[{i}]"
            check_keys(p, _KEYS["pair"], key=key, fail=fail)
            for side in ("importance", "satisfaction"):
                if side not in p:
                    raise fail(key, f"a pair needs '{side}'")
            pair = ISPair(str(p.get("label", p["satisfaction"])),
                          question(p["importance"], f"{key}.importance", scored=True),
                          question(p["satisfaction"], f"{key}.satisfaction", scored=True))
            for side in ("importance", "satisfaction"):
                if not book[getattr(pair, side)].scores:
                    raise fail(f"{key}.{side}", "the question needs a scale with scores")
            pairs.append(pair)

    outcomes, predictors = [], []
    drivers = doc.get("drivers")
    if drivers is not None:
        check_keys(drivers, _KEYS["drivers"], key="awareness.drivers", fail=fail)
        for i, o in enumerate(_list(drivers.get("outcomes"), "awareness.drivers.outcomes", fail)):
            key = f"awareness.drivers.outcomes[{i}]"
            check_keys(o, _KEYS["outcome"], key=key, fail=fail)
            if "question" not in o or "codes" not in o:
                raise fail(key, "an outcome needs 'question' and 'codes'")
            outcomes.append(DriverOutcome(str(o.get("label", o["question"])),
                                          question(o["question"], f"{key}.question"),
                                          _codes(o["codes"], f"{key}.codes", fail)))
        for i, p in enumerate(_list(drivers.get("predictors"), "awareness.drivers.predictors",
                                    fail)):
            key = f"awareness.drivers.predictors[{i}]"
            check_keys(p, _KEYS["predictor"], key=key, fail=fail)
            if ("question" in p) == ("group" in p):
                raise fail(key, "a predictor needs exactly one of 'question' (with 'codes') "
                                "or 'group'")
            if "group" in p:
                if str(p["group"]) not in ids:
                    raise fail(f"{key}.group", f"unknown group {p['group']!r}")
                predictors.append(DriverPredictor(str(p.get("label", p["group"])),
                                                  group=str(p["group"])))
            else:
                if "codes" not in p:
                    raise fail(key, "a question predictor needs 'codes'")
                predictors.append(DriverPredictor(str(p.get("label", p["question"])),
                                                  question=question(p["question"],
                                                                    f"{key}.question"),
                                                  codes=_codes(p["codes"], f"{key}.codes", fail)))

    segments = None
    seg = doc.get("segments")
    if seg is not None:
        check_keys(seg, _KEYS["segments"], key="awareness.segments", fail=fail)
        if str(seg.get("group")) not in ids:
            raise fail("awareness.segments.group", f"unknown group {seg.get('group')!r}")
        k = seg.get("k", [2, 5])
        if (not isinstance(k, list) or len(k) != 2 or not all(isinstance(v, int) for v in k)
                or not 2 <= k[0] <= k[1] <= 12):
            raise fail("awareness.segments.k", "k must be [min, max] with 2 <= min <= max <= 12")
        segments = SegmentSpec(str(seg["group"]), (k[0], k[1]), int(seg.get("seed", 0)))
    return AwarenessSpec(tuple(groups), tuple(pairs), is_label, tuple(outcomes),
                         tuple(predictors), segments)


def _option_ids(book: Codebook) -> set[str]:
    return {oid for q in book if q.is_multiple for oid in q.option_ids}
