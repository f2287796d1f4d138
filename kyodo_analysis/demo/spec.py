"""Fixed facts and model parameters of the synthetic Handa-like demo study.

Population figures are Handa City's 2011 junior-high district (中学校区) populations,
scaled to about 118,000 residents; everything else is invented for the demo and says so.
"""

from __future__ import annotations

__all__ = [
    "ACTIVITY_YEARS",
    "AGE_BANDS",
    "AGE_BAND_SHARES",
    "AGE_GROUPS",
    "DEFAULT_SEED",
    "DISTRICTS",
    "ELEMENTARY",
    "FISCAL_YEARS",
    "PLAN_START",
    "SAMPLE_SIZE",
    "TOTAL_POPULATION",
    "WORKSHOP_GROWTH",
]

#: Seed of the demo study that `make report` publishes.
DEFAULT_SEED = 20260401

TOTAL_POPULATION = 118_000

#: 中学校区 -> (2011 population, {小学校区: share of the district}).
DISTRICTS: dict[str, tuple[int, dict[str, float]]] = {
    "青山": (22_237, {"花園": 0.55, "板山": 0.45}),
    "成岩": (22_916, {"成岩": 0.60, "宮池": 0.40}),
    "半田": (30_503, {"半田": 0.30, "さくら": 0.20, "岩滑": 0.25, "雁宿": 0.25}),
    "乙川": (30_200, {"乙川": 0.40, "横川": 0.30, "乙川東": 0.30}),
    "亀崎": (13_961, {"亀崎": 0.60, "有脇": 0.40}),
}

#: 小学校区 in codebook order (code = position + 1).
ELEMENTARY: list[str] = [e for _, (_, parts) in DISTRICTS.items() for e in parts]

#: Tilt of the age structure by district (positive = older than the city).
AGE_TILT: dict[str, float] = {"青山": 0.0, "成岩": 0.05, "半田": 0.0, "乙川": -0.15, "亀崎": 0.25}

#: Five-year age bands (lower bounds; the last is 85+) and their shares of an Aichi-type city.
AGE_BANDS: list[int] = [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85]
AGE_BAND_SHARES: list[float] = [
    4.2, 4.5, 4.7, 4.8, 5.3, 5.3, 5.5, 6.0, 6.6, 7.8, 7.2, 6.0, 5.6, 5.9, 7.0, 5.3, 4.0, 4.3,
]

#: Survey age groups (codebook f2 / reg_age): label and lower bound.
AGE_GROUPS: list[tuple[str, int]] = [
    ("18～29歳", 18),
    ("30～39歳", 30),
    ("40～49歳", 40),
    ("50～59歳", 50),
    ("60～69歳", 60),
    ("70歳以上", 70),
]

FISCAL_YEARS: list[int] = [2021, 2022, 2023, 2024, 2025]
ACTIVITY_YEARS: list[int] = list(range(2012, 2026))
PLAN_START = 2022
COVID_YEARS = (2020, 2021)
#: Undisrupted pre-plan years whose mean level the demo's district outputs are compared with.
REFERENCE_YEARS = (2017, 2019)
SAMPLE_SIZE = 3_000

#: Relative growth of workshops after the plan's start, by 中学校区. Awareness of 協働 rises
#: faster where workshops grew: this is the embedded effect the demo's tests look for.
WORKSHOP_GROWTH: dict[str, float] = {"青山": 1.0, "成岩": 0.6, "半田": 1.6, "乙川": 1.2, "亀崎": 0.4}
#: Yearly rise of the awareness logit after FY2021 per unit of workshop growth.
AWARENESS_SLOPE_PER_GROWTH = 0.08

#: Response propensity (logit scale): depends on register attributes only, so weighting on
#: 中学校区 × sex × age group can remove the bias it causes (missing at random).
RESPONSE_INTERCEPT = 0.3
RESPONSE_AGE = [-1.05, -0.7, -0.35, 0.0, 0.45, 0.6]
RESPONSE_MALE = -0.3
RESPONSE_DISTRICT = {"青山": 0.0, "成岩": 0.05, "半田": -0.05, "乙川": -0.1, "亀崎": 0.15}

#: The file format of each wave, as the city would have received it.
WAVE_FORMATS: dict[int, tuple[str, str | None]] = {
    2021: ("csv", "cp932"),
    2022: ("csv", "cp932"),
    2023: ("xlsx", None),
    2024: ("sav", None),
    2025: ("csv", "utf-8-sig"),
}

SYNTHETIC_NOTICE = (
    "この報告書は合成データ（デモデータ）に基づいて作成されています。"
    "実在の半田市の調査結果ではありません。"
)
