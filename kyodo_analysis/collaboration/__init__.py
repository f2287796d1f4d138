"""Collaborative projects (協働事業): the register, two-sided reviews and what they show.

* :mod:`~kyodo_analysis.collaboration.register`: the project register (協働事業台帳), read
  through the io readers and validated with a quarantine;
* :mod:`~kyodo_analysis.collaboration.reviews`: the two-sided review sheet (ふりかえりシート);
* :mod:`~kyodo_analysis.collaboration.measures`: partner degrees, flows, stage days, the
  funnel, the plan tree, yearly measures and review gaps (pure functions);
* :mod:`~kyodo_analysis.collaboration.template`: the template ``kyodo init --collaboration``
  writes.

:meth:`kyodo_analysis.study.Study.collaboration` reads a study's register and reviews as
study.yaml's ``collaboration:`` block declares them.
"""

from dataclasses import dataclass

from kyodo_analysis.collaboration.register import (
    STAGES,
    Register,
    RegisterRules,
    parse_partners,
    read_register,
    validate_register,
)
from kyodo_analysis.collaboration.reviews import Reviews, read_reviews, validate_reviews

__all__ = [
    "STAGES",
    "Collaboration",
    "Register",
    "RegisterRules",
    "Reviews",
    "parse_partners",
    "read_register",
    "read_reviews",
    "validate_register",
    "validate_reviews",
]


@dataclass(frozen=True)
class Collaboration:
    """A study's register and its reviews (``None`` when the study has no review file)."""

    register: Register
    reviews: Reviews | None
