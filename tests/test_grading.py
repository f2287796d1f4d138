"""Tests for kyodo_analysis.evaluation.grading: hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kyodo_analysis.errors import ConfigError, EstimationError
from kyodo_analysis.evaluation.grading import (
    GRADE_LABELS,
    GradingRule,
    achievement_rate,
    adjust_p,
    change_is_significant,
    grade,
    grade_frame,
    prorated_target,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ achievement_rate
class TestAchievementRate:
    def test_higher_is_better_hand_computed(self) -> None:
        # baseline 50, target 60: 55 is half way, 62 is 120%, 45 is -50%.
        assert achievement_rate(55.0, 50.0, 60.0) == pytest.approx(0.5)
        assert achievement_rate(62.0, 50.0, 60.0) == pytest.approx(1.2)
        assert achievement_rate(45.0, 50.0, 60.0) == pytest.approx(-0.5)

    def test_lower_is_better_hand_computed(self) -> None:
        # e.g. a vacancy rate: baseline 10%, target 6%. Falling to 8% is half way:
        # (8 - 10) / (6 - 10) = 0.5; rising to 11% is (11 - 10) / (6 - 10) = -0.25.
        assert achievement_rate(8.0, 10.0, 6.0, direction="lower") == pytest.approx(0.5)
        assert achievement_rate(11.0, 10.0, 6.0, direction="lower") == pytest.approx(-0.25)
        assert achievement_rate(5.0, 10.0, 6.0, direction="lower") == pytest.approx(1.25)

    def test_target_already_met_at_baseline_is_maintenance(self) -> None:
        # higher is better, baseline 62 already above target 60: maintenance target.
        assert achievement_rate(61.0, 62.0, 60.0) == 1.0   # still >= target: maintained
        assert achievement_rate(60.0, 62.0, 60.0) == 1.0   # exactly at target: maintained
        assert math.isnan(achievement_rate(59.0, 62.0, 60.0))  # fell below target
        # lower is better, baseline 5 already below target 6.
        assert achievement_rate(5.5, 5.0, 6.0, direction="lower") == 1.0
        assert math.isnan(achievement_rate(6.5, 5.0, 6.0, direction="lower"))

    def test_baseline_equal_to_target(self) -> None:
        assert achievement_rate(70.0, 70.0, 70.0) == 1.0
        assert achievement_rate(71.0, 70.0, 70.0) == 1.0
        assert math.isnan(achievement_rate(69.0, 70.0, 70.0))
        assert achievement_rate(69.0, 70.0, 70.0, direction="lower") == 1.0

    def test_vectorised_series_keeps_index(self) -> None:
        actual = pd.Series([55.0, 8.0, np.nan], index=["volunteers", "vacancy", "missing"])
        rate = achievement_rate(
            actual, pd.Series([50.0, 10.0, 1.0], index=actual.index),
            pd.Series([60.0, 6.0, 2.0], index=actual.index),
            direction=["higher", "lower", "higher"],
        )
        assert isinstance(rate, pd.Series)
        assert list(rate.index) == list(actual.index)
        assert rate.iloc[0] == pytest.approx(0.5)
        assert rate.iloc[1] == pytest.approx(0.5)
        assert math.isnan(rate.iloc[2])

    def test_vectorised_array(self) -> None:
        rate = achievement_rate(np.array([50.0, 55.0, 60.0]), 50.0, 60.0)
        np.testing.assert_allclose(rate, [0.0, 0.5, 1.0])

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"direction": "up"}, "direction"),
            ({"direction": ["higher", "sideways"]}, "direction"),
        ],
    )
    def test_bad_direction(self, kwargs: dict, fragment: str) -> None:
        with pytest.raises(EstimationError, match=fragment):
            achievement_rate([1.0, 2.0], 0.0, 4.0, **kwargs)

    def test_bad_values(self) -> None:
        with pytest.raises(EstimationError, match="actual"):
            achievement_rate("a lot", 0.0, 1.0)
        with pytest.raises(EstimationError, match="target"):
            achievement_rate(1.0, 0.0, np.inf)
        with pytest.raises(EstimationError, match="broadcast"):
            achievement_rate([1.0, 2.0], [0.0, 0.0, 0.0], 1.0)

    @given(baseline=finite, target=finite, direction=st.sampled_from(["higher", "lower"]))
    def test_property_zero_at_baseline_one_at_target(
        self, baseline: float, target: float, direction: str
    ) -> None:
        sign = 1 if direction == "higher" else -1
        assume(sign * (target - baseline) > 1e-6)
        assert achievement_rate(baseline, baseline, target, direction=direction) == 0.0
        assert achievement_rate(target, baseline, target, direction=direction) == (
            pytest.approx(1.0)
        )

    @given(
        actual=finite, baseline=finite, target=finite,
        scale=st.floats(min_value=1e-3, max_value=1e3), shift=finite,
    )
    def test_property_affine_invariance(
        self, actual: float, baseline: float, target: float, scale: float, shift: float
    ) -> None:
        # Re-expressing the indicator in other units (e.g. % instead of proportion, or a
        # shifted origin) must not change the rate; a negative scale flips the direction.
        assume(abs(target - baseline) > 1e-3 * max(1.0, abs(baseline), abs(target)))
        d = "higher" if target > baseline else "lower"
        flipped = "lower" if d == "higher" else "higher"
        r = achievement_rate(actual, baseline, target, direction=d)
        r_pos = achievement_rate(
            scale * actual + shift, scale * baseline + shift, scale * target + shift,
            direction=d,
        )
        r_neg = achievement_rate(
            -scale * actual + shift, -scale * baseline + shift, -scale * target + shift,
            direction=flipped,
        )
        assert r_pos == pytest.approx(r, rel=1e-6, abs=1e-6)
        assert r_neg == pytest.approx(r, rel=1e-6, abs=1e-6)


# ------------------------------------------------------------------ prorated target
class TestProratedTarget:
    def test_mid_term_halfway(self) -> None:
        # Plan FY2021 baseline 40 -> FY2031 target 60; FY2026 is 5/10 of the way: 50.
        assert prorated_target(40.0, 60.0, year=2026, baseline_year=2021,
                               target_year=2031) == pytest.approx(50.0)
        # FY2025 is 4/10 of the way: 48.
        assert prorated_target(40.0, 60.0, year=2025, baseline_year=2021,
                               target_year=2031) == pytest.approx(48.0)

    def test_after_target_year_is_full_target(self) -> None:
        assert prorated_target(40.0, 60.0, year=2033, baseline_year=2021,
                               target_year=2031) == pytest.approx(60.0)

    def test_per_indicator_baseline_years(self) -> None:
        # Indicator 1: FY2021 -> FY2031, 5/10 of the way in FY2026: 40 + 20 * 0.5 = 50.
        # Indicator 2: FY2020 -> FY2030, 6/10 of the way in FY2026: 10 + 10 * 0.6 = 16.
        out = prorated_target([40.0, 10.0], [60.0, 20.0], year=2026,
                              baseline_year=[2021, 2020], target_year=[2031, 2030])
        np.testing.assert_allclose(out, [50.0, 16.0])

    def test_bad_years(self) -> None:
        with pytest.raises(EstimationError, match="target_year"):
            prorated_target(1.0, 2.0, year=2025, baseline_year=2030, target_year=2030)
        with pytest.raises(EstimationError, match="year"):
            prorated_target(1.0, 2.0, year=2019, baseline_year=2021, target_year=2031)
        with pytest.raises(EstimationError, match="year"):
            prorated_target(1.0, 2.0, year=2025.5, baseline_year=2021,  # type: ignore[arg-type]
                            target_year=2031)
        with pytest.raises(EstimationError, match="target_year=2020"):
            prorated_target([1.0, 1.0], 2.0, year=2025, baseline_year=[2021, 2020],
                            target_year=[2031, 2020])


# ------------------------------------------------------------------ grade
class TestGrade:
    def test_default_scheme_hand_computed(self) -> None:
        # baseline 50, target 60 (gap 10): rates 1.2, 1.0, 0.8, 0.5, 0.1, 0.0, -0.1, -0.3.
        actual = [62.0, 60.0, 58.0, 55.0, 51.0, 50.0, 49.0, 47.0]
        g = grade(actual, 50.0, 60.0)
        assert g["grade"].tolist() == ["S", "S", "A", "B", "C", "C", "C", "D"]
        assert g["label_ja"].tolist()[:5] == ["目標達成", "目標達成", "概ね達成", "改善", "横ばい"]
        assert g["label_ja"].iloc[-1] == "悪化"
        np.testing.assert_allclose(
            g["achievement_rate"], [1.2, 1.0, 0.8, 0.5, 0.1, 0.0, -0.1, -0.3]
        )

    def test_no_change_band_edges_closed(self) -> None:
        # Band of ±10% of |target - baseline| = ±0.01 here. Values that are
        # inexact in binary floating point sit exactly on the edge and must be C;
        # just outside the edge they must be B / D.
        g = grade([0.31, 0.29, 0.3101, 0.2899], 0.30, 0.40)
        assert g["grade"].tolist() == ["C", "C", "B", "D"]

    def test_custom_band(self) -> None:
        rule = GradingRule(no_change_band=0.25)
        g = grade([52.5, 52.6, 47.5, 47.4], 50.0, 60.0, rule=rule)
        assert g["grade"].tolist() == ["C", "B", "C", "D"]

    def test_lower_is_better(self) -> None:
        # baseline 10, target 6: 6 -> S, 7 (0.75) -> B, 9.8 (0.05) -> C, 11 (-0.25) -> D.
        g = grade([6.0, 6.8, 7.0, 9.8, 11.0], 10.0, 6.0, direction="lower")
        assert g["grade"].tolist() == ["S", "A", "B", "C", "D"]

    def test_maintenance_targets(self) -> None:
        # Target already met at baseline, and baseline equal to target.
        g = grade([61.0, 59.0, 70.0, 69.0], [62.0, 62.0, 70.0, 70.0], [60.0, 60.0, 70.0, 70.0])
        assert g["grade"].tolist() == ["S", "D", "S", "D"]
        assert g["maintenance"].tolist() == [True, True, True, True]
        # A miss (or a keep) that is not distinguishable from the baseline is held.
        g = grade([69.0, 71.0], 70.0, 70.0, significant=False)
        assert g["grade"].tolist() == ["H", "H"]
        assert grade(69.0, 70.0, 70.0, significant=True)["grade"].item() == "D"

    def test_prorated_mid_term(self) -> None:
        # Prorated: FY2021 baseline 40, FY2031 target 60, FY2026 prorated target 50.
        rule = GradingRule(prorate=True)
        kw = {"rule": rule, "year": 2026, "baseline_year": 2021, "target_year": 2031}
        g = grade([50.0, 48.0, 45.0, 40.5, 38.0], 40.0, 60.0, **kw)
        # rates against 50: 1.0, 0.8, 0.5, 0.05, -0.2
        np.testing.assert_allclose(g["target_used"], 50.0)
        np.testing.assert_allclose(g["achievement_rate"], [1.0, 0.8, 0.5, 0.05, -0.2])
        assert g["grade"].tolist() == ["S", "A", "B", "C", "D"]
        # Without prorating the same values are graded against the final target 60.
        assert grade(50.0, 40.0, 60.0)["grade"].item() == "B"

    def test_prorate_requires_years(self) -> None:
        with pytest.raises(EstimationError, match="baseline_year"):
            grade(50.0, 40.0, 60.0, rule=GradingRule(prorate=True), year=2026,
                  target_year=2031)

    def test_one_evidence_rule_for_every_grade_including_s(self) -> None:
        # rates 0.9 (A), 0.5 (B), -0.5 (D), 1.2 (S); not significant -> held for every
        # grade, S included (the example: 50.5 vs baseline 45, target 50).
        actual = [59.0, 55.0, 45.0, 62.0]
        g = grade(actual, 50.0, 60.0, significant=[False, False, False, False])
        assert g["grade"].tolist() == ["H", "H", "H", "H"]
        assert grade(50.5, 45.0, 50.0, significant=False)["grade"].item() == "H"
        assert grade(49.5, 45.0, 50.0, significant=False)["grade"].item() == "H"
        g = grade(actual, 50.0, 60.0, significant=[True, None, np.nan, True])
        assert g["grade"].tolist() == ["A", "B", "D", "S"]

    def test_evidence_from_change_se_hand_computed(self) -> None:
        # baseline 50, target 60 (gap 10), change se 2: rate interval r ± 1.959964 * 0.2.
        # 62: 1.2 ± 0.392 spans A〜S -> H; 54: 0.4 ± 0.392 spans C〜B -> H even though
        # z = 2 is significant; 53 and 50.2 are not significant -> H.
        g = grade([62.0, 54.0, 53.0, 50.2], 50.0, 60.0, change_se=2.0)
        assert g["grade"].tolist() == ["H", "H", "H", "H"]
        assert g["grade_range"].tolist()[:2] == ["A〜S", "C〜B"]
        # MDC = (1.959964 + 0.841621) * 2 = 5.603
        np.testing.assert_allclose(g["mdc"], 5.60317, atol=1e-4)
        np.testing.assert_allclose(g["rate_low"].iloc[2], 0.3 - 1.959964 * 0.2, atol=1e-6)
        # se 0.5: half-width 0.098. 62 -> [1.102, 1.298] S; 55 -> [0.402, 0.598] B;
        # 58 -> [0.702, 0.898] B〜A -> H; 46 -> [-0.498, -0.302] D.
        g = grade([62.0, 55.0, 58.0, 46.0], 50.0, 60.0, change_se=0.5)
        assert g["grade"].tolist() == ["S", "B", "H", "D"]
        # not significant but the whole interval inside the ±0.1 band: C 横ばい shown
        assert grade(50.5, 50.0, 60.0, change_se=0.2)["grade"].item() == "C"
        assert grade(50.05, 50.0, 60.0, change_se=0.3)["grade"].item() == "C"
        # the same interval with a significance decision that says "no" (e.g. after a
        # multiplicity adjustment) is held, for S as for the other grades
        assert grade(62.0, 50.0, 60.0, change_se=0.5, significant=False)["grade"].item() == "H"

    def test_points_preset(self) -> None:
        rule = GradingRule.from_dict({"preset": "points"})
        assert rule.band_unit == "points" and rule.no_change_band == 1.0
        # exact values: +0.9 points is C, +1.1 points B (gap 10)
        assert grade([50.9, 51.1], 50.0, 60.0, rule=rule)["grade"].tolist() == ["C", "B"]
        with pytest.raises(ConfigError, match="preset"):
            GradingRule.from_dict({"preset": "osaka"})

    def test_bad_significant(self) -> None:
        with pytest.raises(EstimationError, match="significant"):
            grade(55.0, 50.0, 60.0, significant="yes")

    def test_missing_value_not_assessable(self) -> None:
        g = grade(pd.Series([np.nan, 55.0], index=["x", "y"]), 50.0, 60.0)
        assert g.loc["x", "grade"] == "-"
        assert g.loc["x", "label_ja"] == GRADE_LABELS["-"][0]
        assert g.loc["y", "grade"] == "B"

    def test_every_grade_has_labels(self) -> None:
        assert set(GRADE_LABELS) == {"S", "A", "B", "C", "D", "H", "-"}

    @settings(deadline=None)
    @given(baseline=finite, target=finite, direction=st.sampled_from(["higher", "lower"]))
    def test_property_baseline_is_c_and_target_is_s(
        self, baseline: float, target: float, direction: str
    ) -> None:
        sign = 1 if direction == "higher" else -1
        assume(sign * (target - baseline) > 1e-6)
        g = grade([baseline, target], baseline, target, direction=direction)
        assert g["grade"].tolist() == ["C", "S"]


_ORDER = {"D": 0, "C": 1, "B": 2, "A": 3, "S": 4}


@given(
    baseline=finite, target=finite, direction=st.sampled_from(["higher", "lower"]),
    actuals=st.lists(finite, min_size=2, max_size=20),
)
def test_property_grade_monotone_in_actual(
    baseline: float, target: float, direction: str, actuals: list[float]
) -> None:
    # A better actual value never gets a worse grade (for ordinary and maintenance
    # targets alike).
    sign = 1 if direction == "higher" else -1
    ordered = sorted(actuals, key=lambda v: sign * v)  # from worst to best
    g = grade(ordered, baseline, target, direction=direction)["grade"].map(_ORDER)
    assert g.is_monotonic_increasing


# ------------------------------------------------------------------ change_is_significant
class TestChangeIsSignificant:
    def test_hand_computed(self) -> None:
        # SE of the difference = sqrt(0.015^2 + 0.015^2) = 0.021213; critical z = 1.95996.
        # 0.45 vs 0.40: z = 2.357 -> significant; 0.42 vs 0.40: z = 0.943 -> not.
        # Edge: a difference of 1.96 * 0.021213 = 0.041577 is just significant.
        out = change_is_significant([0.45, 0.42, 0.4416, 0.4415], 0.015, 0.40, 0.015)
        assert out.tolist() == [True, False, True, False]
        assert change_is_significant(0.35, 0.015, 0.40, 0.015) is True  # a fall counts too
        # at 90% the critical value is 1.645: z = 1.70 is significant
        assert change_is_significant(0.436, 0.015, 0.40, 0.015, level=0.90) is True
        assert change_is_significant(0.436, 0.015, 0.40, 0.015) is False

    def test_feeds_grade(self) -> None:
        sig = change_is_significant([0.42, 0.45], 0.015, 0.40, 0.015)
        g = grade([0.42, 0.45], 0.40, 0.45, significant=sig)
        assert g["grade"].tolist() == ["H", "S"]   # 0.42 would be B on the point value

    def test_invalid(self) -> None:
        with pytest.raises(EstimationError, match="actual_se"):
            change_is_significant(0.4, -0.01, 0.3, 0.01)
        with pytest.raises(EstimationError, match="both zero"):
            change_is_significant(0.4, 0.0, 0.3, 0.0)
        with pytest.raises(EstimationError, match="level"):
            change_is_significant(0.4, 0.01, 0.3, 0.01, level=95)
        with pytest.raises(EstimationError, match="baseline"):
            change_is_significant(0.4, 0.01, np.nan, 0.01)


# ------------------------------------------------------------------ grade_frame
class TestGradeFrame:
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "indicator": ["市民活動団体数", "空き家率", "協働満足度"],
                "value": [58.0, 9.8, 0.45],
                "base": [50.0, 10.0, 0.40],
                "goal": [60.0, 6.0, 0.50],
                "direction": ["higher", "lower", "higher"],
                "sig": pd.array([pd.NA, pd.NA, False], dtype="boolean"),
                "base_year": [2021, 2021, 2020],
            },
            index=pd.Index(["I1", "I2", "I3"], name="id"),
        )

    def test_columns_and_grades(self) -> None:
        out = grade_frame(self.table(), "value", "base", "goal", direction="direction",
                          significant="sig")
        assert list(out.index) == ["I1", "I2", "I3"]
        # I1 rate 0.8 -> A; I2 rate 0.05 -> C; I3 rate 0.5 but not significant -> H (held)
        assert out["grade"].tolist() == ["A", "C", "H"]
        assert {"indicator", "achievement_rate", "label_ja", "basis"} <= set(out.columns)

    def test_prorated_with_year_columns(self) -> None:
        out = grade_frame(self.table(), "value", "base", "goal", direction="direction",
                          rule=GradingRule(prorate=True), year=2026,
                          baseline_year="base_year", target_year=2031)
        # I1: FY2021 -> FY2031, half way in FY2026: target 55, rate 8/5 = 1.6 -> S.
        # I2: target 10 - 4 * 0.5 = 8, rate (9.8 - 10)/(8 - 10) = 0.1, band edge -> C.
        # I3: FY2020 -> FY2031, 6/11 of the way: target 0.4545..., rate 0.05/0.0545 = 0.917
        #     -> A (significance is not passed here).
        np.testing.assert_allclose(out["target_used"], [55.0, 8.0, 0.4 + 0.1 * 6 / 11])
        np.testing.assert_allclose(out["achievement_rate"], [1.6, 0.1, 0.55 / 0.6])
        assert out["grade"].tolist() == ["S", "C", "A"]

    def test_missing_column(self) -> None:
        with pytest.raises(EstimationError, match="'actual'"):
            grade_frame(self.table())


# ------------------------------------------------------------------ GradingRule
class TestGradingRule:
    def test_defaults_and_round_trip(self) -> None:
        rule = GradingRule()
        assert (rule.s_threshold, rule.a_threshold, rule.no_change_band) == (1.0, 0.8, 0.1)
        assert GradingRule.from_dict(rule.to_dict()) == rule

    def test_from_dict(self) -> None:
        rule = GradingRule.from_dict({"a_threshold": 0.7, "prorate": True})
        assert rule.a_threshold == 0.7
        assert rule.prorate is True

    @pytest.mark.parametrize(
        ("config", "key"),
        [
            ({"a_threshhold": 0.7}, "a_threshhold"),  # typo: unknown key
            ({"a_threshold": "high"}, "a_threshold"),  # wrong type
            ({"a_threshold": 1.2}, "a_threshold"),  # above s_threshold
            ({"s_threshold": 0.0, "a_threshold": 0.0, "no_change_band": 0.0}, "s_threshold"),
            ({"no_change_band": -0.1}, "no_change_band"),
            ({"no_change_band": 0.8}, "no_change_band"),  # not below a_threshold
            ({"no_change_band": float("nan")}, "no_change_band"),
            ({"prorate": "yes"}, "prorate"),
            ({"prorate": 1}, "prorate"),
            ({"multiplicity": "bonf"}, "multiplicity"),
            ({"baseline": "mean"}, "baseline"),
        ],
    )
    def test_invalid_rule_names_key(self, config: dict, key: str) -> None:
        with pytest.raises(ConfigError) as info:
            GradingRule.from_dict(config, file="indicators.yaml")
        assert info.value.key == key
        assert key in str(info.value)
        assert "indicators.yaml" in str(info.value)

    def test_not_a_mapping(self) -> None:
        with pytest.raises(ConfigError, match="mapping"):
            GradingRule.from_dict([("a_threshold", 0.7)])  # type: ignore[arg-type]

    def test_frozen(self) -> None:
        rule = GradingRule()
        with pytest.raises(AttributeError):
            rule.a_threshold = 0.5  # type: ignore[misc]

    def test_grade_rejects_non_rule(self) -> None:
        with pytest.raises(ConfigError, match="GradingRule"):
            grade(1.0, 0.0, 2.0, rule={"a_threshold": 0.5})  # type: ignore[arg-type]


# ------------------------------------------------------------------ multiplicity
def test_adjust_p_matches_r_p_adjust() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.030 0.060 0.060 0.020
    #    p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH")   -> 0.020 0.040 0.040 0.020
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p(p, "bh"), [0.02, 0.04, 0.04, 0.02])
    out = adjust_p([0.01, np.nan, 0.02], "holm")
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], [0.02, 0.02])


def test_point_band_evidence_grades_the_point_once_the_change_is_significant() -> None:
    rule = GradingRule(band_evidence="point")
    # 62 ± 3.92 (se 2): significant (z 6), interval spans A〜S; the point band is S.
    # 53 (z 1.5) is not significant: H under both readings.
    g = grade([62.0, 54.0, 53.0], 50.0, 60.0, change_se=2.0, rule=rule)
    assert g["grade"].tolist() == ["S", "B", "H"]
    strict = grade([62.0, 54.0, 53.0], 50.0, 60.0, change_se=2.0)
    assert strict["grade"].tolist() == ["H", "H", "H"]
