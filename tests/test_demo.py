"""The synthetic demo study: deterministic, plausible, and honest about its known truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kyodo_analysis.demo import spec
from kyodo_analysis.demo.generate import generate_demo


def _hashes(root: Path) -> dict[str, str]:
    """sha256 of every generated file (the study's store, made by importing, is not one)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".duckdb" not in p.name}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path, demo_dir):
    again = generate_demo(tmp_path / "again", seed=spec.DEFAULT_SEED).root
    first, second = _hashes(demo_dir), _hashes(again)
    assert first == second
    other = _hashes(generate_demo(tmp_path / "other", seed=spec.DEFAULT_SEED + 1).root)
    raw = [k for k in first if k.startswith("raw/")]
    assert len(raw) == 5
    assert all(first[k] != other[k] for k in raw)


# sha256 of files of the default-seed demo, as generated with the pins of requirements.lock.
# A change here means the demo data changed: update it on purpose, never to make a test pass.
# (#16: the raw files gained the six attitude items q8_1-q8_6; every other column is unchanged.
# #12: the truth gained the rows of intention_none (q4 = 参加したいとは思わない), V-3's truth;
# every other row is unchanged.)
DEMO_SHA256 = {
    "raw/survey_FY2021.csv": "1ff7f60e22a128d392de345a2bc5ca51a8230d2ccd1b8bae8bd141fea94532c0",
    "raw/survey_FY2025.csv": "da66e2014b5442d289ff4781f6a347bf7a5dade4f7bf5c95c1fd6d171ff00d6f",
    "truth/truth_indicators.csv": "0daf4a69998e77b46a2a42d29d4b8149ce5736e966e16b0906116c1c8d39f223",
    "population_margins.csv": "83fe1efdc27f3cb1bedef39e351741b8ae8dbc08ea8fd725699ce17569659dba",
    "activity_statistics.csv": "e33390535fceae67b7ae41c799e37fbdec1054962bb6780bb538a3556f058553",
}


def test_default_seed_reproduces_the_published_demo_files(demo_dir):
    got = _hashes(demo_dir)
    for name, digest in DEMO_SHA256.items():
        assert got[name] == digest, f"{name} differs from the published demo data"


def test_failed_generation_leaves_no_half_written_study(tmp_path, monkeypatch):
    from kyodo_analysis.demo import generate

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(generate, "_write_activity", boom)
    with pytest.raises(RuntimeError):
        generate_demo(tmp_path / "study", seed=1)
    assert not (tmp_path / "study").exists()


def test_population_totals_and_districts(demo_dir):
    total = pd.read_csv(demo_dir / "population_total.csv")
    assert abs(total["総人口"].sum() - spec.TOTAL_POPULATION) <= 5
    by_jhs = total.groupby("中学校区")["総人口"].sum()
    scale = spec.TOTAL_POPULATION / sum(p for p, _ in spec.DISTRICTS.values())
    for jhs, (pop2011, parts) in spec.DISTRICTS.items():
        assert abs(by_jhs[jhs] - pop2011 * scale) <= len(parts)
    margins = pd.read_csv(demo_dir / "population_margins.csv")
    adults = margins["人口"].sum()
    assert 0.80 < adults / total["総人口"].sum() < 0.88  # share aged 18+ of an Aichi-type city
    assert set(margins["小学校区"]) == set(spec.ELEMENTARY) and len(spec.ELEMENTARY) == 13
    old = margins[margins["年代"] == "70歳以上"]
    assert old.loc[old["性別"] == "女性", "人口"].sum() > old.loc[old["性別"] == "男性", "人口"].sum()


def test_fieldwork_response_rates_are_those_of_a_municipal_mail_survey(demo_study):
    fw = demo_study.fieldwork()
    per_wave = fw.groupby("fiscal_year")[["sent", "returned"]].sum()
    assert (per_wave["sent"] == spec.SAMPLE_SIZE).all()
    rate = per_wave["returned"] / per_wave["sent"]
    assert rate.between(0.45, 0.60).all()
    by_age = fw.groupby("年代")[["sent", "returned"]].sum()
    by_age = by_age["returned"] / by_age["sent"]
    order = [label for label, _ in spec.AGE_GROUPS]
    assert by_age[order].is_monotonic_increasing
    assert by_age["18～29歳"] < 0.35 and by_age["70歳以上"] > 0.55
    by_sex = fw.groupby("性別")[["sent", "returned"]].sum()
    by_sex = by_sex["returned"] / by_sex["sent"]
    assert by_sex["男性"] < by_sex["女性"]
    # Stratified by 中学校区 with proportional allocation.
    frame = pd.read_csv(demo_study.root / "frame_sizes.csv").set_index("中学校区")["母集団数"]
    sent = fw[fw["fiscal_year"] == 2025].groupby("中学校区")["sent"].sum()
    expected = frame / frame.sum() * spec.SAMPLE_SIZE
    assert (abs(sent[frame.index] - expected) < 1).all()


def test_every_wave_loads_with_the_codebook(demo_study):
    fw = demo_study.fieldwork().groupby("fiscal_year")["returned"].sum()
    cb = demo_study.codebook
    for fy in demo_study.fiscal_years:
        data = demo_study.load_wave(fy)
        assert len(data) == fw[fy]
        assert data["id"].is_unique
        for q in cb:
            if q.type in {"single", "likert", "demographic", "design"}:
                allowed = set(q.codes) | set(q.missing)
                assert set(data[q.id].dropna().unique()) <= allowed, (fy, q.id)
        # 問3付問 is asked only of those who took part in something (skip rule).
        took_part = data["q3_6"] == 0
        assert (data.loc[~took_part.fillna(True), "q3sq"] == 8).all()


def test_truth_shows_the_embedded_plan_effect(demo_dir):
    truth = pd.read_csv(demo_dir / "truth" / "truth_indicators.csv")
    aware = truth[(truth["indicator"] == "awareness_top2") & (truth["domain_type"] == "中学校区")]
    wide = aware.pivot(index="domain", columns="fiscal_year", values="value")
    rise = wide[2025] - wide[2021]
    assert (rise > 0).all()
    growth = pd.Series(spec.WORKSHOP_GROWTH)[rise.index]
    rho, _ = stats.spearmanr(growth, rise)
    assert rho >= 0.8  # awareness rose faster where workshops grew


def test_unweighted_respondents_overstate_awareness(demo_study, demo_dir):
    """Older residents respond more and know 協働 better: the raw share is biased upwards."""
    truth = pd.read_csv(demo_dir / "truth" / "truth_indicators.csv")
    city = truth[(truth["indicator"] == "awareness_top2") & (truth["domain_type"] == "city")]
    city = city.set_index("fiscal_year")["value"]
    bias = []
    for fy in demo_study.fiscal_years:
        q1 = demo_study.load_wave(fy)["q1"]
        valid = q1[q1.isin([1, 2, 3, 4])]
        bias.append(valid.isin([1, 2]).mean() - city[fy])
    assert np.mean(bias) > 0.02


def test_activity_series_cover_fy2012_to_fy2025_with_a_covid_dip(demo_dir):
    activity = pd.read_csv(demo_dir / "activity_statistics.csv", encoding="cp932")
    assert len(activity) == len(spec.ACTIVITY_YEARS)
    assert activity["年度"].iloc[0] == "平成24年度" and activity["年度"].iloc[-1] == "令和7年度"
    ws = activity.set_index("年度")["ワークショップ参加者数"]
    assert ws["令和2年度"] < 0.75 * ws["令和元年度"]
    assert ws["令和7年度"] > ws["令和元年度"]
    groups_2016 = activity.set_index("年度").loc["平成28年度", "登録団体数"]
    assert 140 <= groups_2016 <= 200  # about 170 registered groups around 2016
    grants = activity.filter(like="助成件数").sum(axis=1)
    assert 6 <= grants.mean() <= 16  # about 11 grants a year


def test_study_says_it_is_synthetic(demo_study):
    assert demo_study.demo is True
    assert "デモデータ" in demo_study.notice and "合成データ" in demo_study.notice
    assert "デモ" in demo_study.title
    indicators = (demo_study.root / "indicators.yaml").read_text(encoding="utf-8")
    assert "デモ用の例示値" in indicators
