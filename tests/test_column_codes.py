"""Column codes of a design: one coding per column, the same whatever the column's type.

``_sorted_codes`` must give exactly ``pandas.factorize(col, sort=True)`` (codes over the
distinct values present, in sorted order, -1 for missing) on every route it takes: Arrow
strings as ``pandas.read_csv`` returns them (one dictionary encoding, chunked data), pandas
categoricals (from the category codes), compact integers (counting) and the general
fallback. Columns coded in parallel threads (large data) are the same codes as coded one
by one, and give the same estimates.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import kyodo_analysis.stats.design as design_mod
from kyodo_analysis.stats.design import SurveyDesign, _sorted_codes
from kyodo_analysis.stats.weighting import rake

VALUES = ["b", "a", "", "男性", "女性", "20代", "70代以上", "Z", "é", "a "]


def _assert_like_factorize(s: pd.Series) -> None:
    codes, uniques = _sorted_codes(s)
    want_codes, want_uniques = pd.factorize(s, sort=True)
    assert codes.dtype.kind == "i"  # signed: -1 marks missing; narrow where the values are few
    np.testing.assert_array_equal(codes, want_codes)
    assert list(uniques) == list(np.asarray(want_uniques))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(VALUES)), max_size=200), st.integers(1, 5))
def test_codes_equal_pandas_factorize_sorted(values: list[str | None], n_chunks: int) -> None:
    x = np.array(values, dtype=object)
    _assert_like_factorize(pd.Series(x, dtype="str"))
    _assert_like_factorize(pd.Series(x, dtype=object))
    _assert_like_factorize(pd.Series(x, dtype="category"))
    # categories in a non-sorted order, some never observed
    cats = pd.CategoricalDtype(["unused", *reversed(VALUES)])
    _assert_like_factorize(pd.Series(x, dtype=cats))
    # Arrow data in several chunks (what read_csv returns for a large file)
    bounds = np.linspace(0, len(x), n_chunks + 1).astype(int)
    chunked = pa.chunked_array(
        [pa.array(list(x[a:b]), type=pa.large_string()) for a, b in itertools.pairwise(bounds)],
        type=pa.large_string(),
    )
    _assert_like_factorize(pd.Series(pd.arrays.ArrowStringArray(chunked)))


EQUAL_WIDTH = [["m", "f", "Z"], ["男性", "女性"], ["20代", "30代", "60代"], ["d00", "d13", "d09"],
               ["abcdefgh", "abcdefgz", "zbcdefgh"], ["男", "女", "ゑ"], ["é", "ü", "ab"], ["\x00a", "a\x00"],
               ["abcdefgh", "abcdefé", "zzzzzzzz"]]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(EQUAL_WIDTH), st.lists(st.integers(0, 2), min_size=1, max_size=300),
       st.integers(1, 4))
def test_equal_width_strings_coded_without_hashing(pool: list[str], picks: list[int], n_chunks: int) -> None:
    """Strings of one UTF-8 length (up to 8 bytes) take the byte-matrix route; its codes and
    values are pandas.factorize(sort=True)'s, in one chunk or several."""
    x = [pool[i % len(pool)] for i in picks]
    bounds = np.linspace(0, len(x), n_chunks + 1).astype(int)
    chunked = pa.chunked_array(
        [pa.array(x[a:b], type=pa.large_string()) for a, b in itertools.pairwise(bounds)],
        type=pa.large_string(),
    )
    assert design_mod._fixed_width_codes(chunked) is not None
    _assert_like_factorize(pd.Series(pd.arrays.ArrowStringArray(chunked)))
    _assert_like_factorize(pd.Series(x, dtype="str"))


def test_equal_width_strings_coded_slice_by_slice(monkeypatch) -> None:
    """Slices of a few rows (as 65,536-row slices of a large column): values first seen in a
    later slice renumber the codes so far, keys that vary in bits the first slice did not
    vary, or that spread beyond a table, take the route over all keys; always the codes
    and values of pandas.factorize(sort=True)."""
    monkeypatch.setattr(design_mod, "_SLICE_ROWS", 5)
    rng = np.random.default_rng(5)
    cases = [
        ["b"] * 12 + ["a"] + ["c"] * 7 + ["a"],  # a smaller value first seen late
        ["d00", "d09", "d00", "d09", "d00", "d09", "d13", "d01"],  # a lower bit varies late
        ["男性"] * 6 + ["女性"] * 6,
        list(rng.choice(["20代", "30代", "40代", "70代"], 200)),
        ["abcdefgh", "abcdefé", "zzzzzzzz"] * 9,  # keys with the top bit: beyond any table
    ]
    for x in cases:
        chunked = pa.chunked_array([pa.array(x[:9], type=pa.large_string()), pa.array(x[9:], type=pa.large_string())])
        assert design_mod._fixed_width_codes(chunked) is not None
        _assert_like_factorize(pd.Series(pd.arrays.ArrowStringArray(chunked)))


def test_integer_and_read_csv_columns(tmp_path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"k": rng.integers(-5, 9, 5000), "s": rng.choice(VALUES, 5000)})
    frame.loc[::97, "s"] = None
    frame.to_csv(tmp_path / "x.csv", index=False)
    back = pd.read_csv(tmp_path / "x.csv")
    assert isinstance(back["s"].dtype, pd.StringDtype)
    for col in ["k", "s"]:
        _assert_like_factorize(back[col])
    _assert_like_factorize(pd.Series(frame["k"], dtype="Int64"))


def test_parallel_coding_gives_the_same_codes_and_estimates(monkeypatch) -> None:
    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame(
        {
            "age": rng.choice(["20代", "30代", "40代", "70代以上"], n),
            "sex": rng.choice(["男性", "女性"], n),
            "area": rng.choice(["a", "bb", "c"], n),  # unequal widths: hashed, as age
            "w": rng.uniform(1, 3, n),
            "y": rng.normal(size=n),
        }
    )
    frame = frame.astype({"age": "str", "sex": "str", "area": "str"})
    margins = {
        "age": {"20代": 300.0, "30代": 250.0, "40代": 250.0, "70代以上": 200.0},
        "sex": {"男性": 480.0, "女性": 520.0},
        "area": {"a": 300.0, "bb": 300.0, "c": 400.0},
    }
    serial = SurveyDesign(frame, weights="w", strata="area")
    want_mean = serial.mean("y", by=["age", "sex"])
    want_rake = rake(serial, margins).mean("y", by="age")
    monkeypatch.setattr(design_mod, "_PARALLEL_CODING_ROWS", 1)
    monkeypatch.setattr(design_mod, "_usable_cpus", lambda: 2)
    in_threads: list[str] = []

    def coded_in_thread(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        in_threads.append(str(col.name))
        return _sorted_codes(col)

    monkeypatch.setattr(design_mod, "_sorted_codes", coded_in_thread)
    parallel = SurveyDesign(frame, weights="w", strata="area")
    parallel._prefetch_codes(["age", "sex", "area"])
    # the columns that need hashing go to the threads; sex (one width) is counted in place
    assert sorted(in_threads) == ["age", "area"]
    for col in ["age", "sex", "area"]:
        np.testing.assert_array_equal(parallel._code_cache()[col][0], serial._code_cache()[col][0])
    pd.testing.assert_frame_equal(parallel.mean("y", by=["age", "sex"]), want_mean)
    fresh = SurveyDesign(frame, weights="w", strata="area")  # coded inside rake, in threads
    pd.testing.assert_frame_equal(rake(fresh, margins).mean("y", by="age"), want_rake)


def test_glm_factors_reuse_the_design_codes(monkeypatch) -> None:
    """A text factor of a GLM is coded once per design, shared with domains (the cache is
    hit, no second coding), and the fit is the one formulaic gives from the text itself."""
    import kyodo_analysis.stats.glm as glm_mod

    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame(
        {
            "grp": rng.choice(["c", "a", "b", "男性"], n).astype(object),
            "area": rng.choice(["x", "y"], n),
            "w": rng.uniform(1, 3, n),
            "v": rng.normal(size=n),
        }
    )
    frame["y"] = (frame["grp"] == "a") * 0.5 + frame["v"] + rng.normal(size=n)
    frame["hit"] = (frame["y"] > 0.3).astype(float)
    frame.loc[::101, "grp"] = None  # missing text values take formulaic's own route as before
    frame = frame.astype({"grp": "str", "area": "str"})
    design = SurveyDesign(frame, weights="w", strata="area")
    design.mean("y", by="grp")  # codes the column

    calls: list[str] = []
    real = design_mod._sorted_codes

    def counting(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        calls.append(str(col.name))
        return real(col)

    monkeypatch.setattr(design_mod, "_sorted_codes", counting)
    models = [("y ~ grp + v", "gaussian"), ("hit ~ C(grp) * v", "quasibinomial")]
    fits = [design.glm(f, family=fam) for f, fam in models]
    assert calls == []  # grp: the cached codes; v: numeric, never coded
    design.glm("y ~ area + v")
    assert calls == ["area"]  # coded once, then cached for domains, margins and tables
    assert "area" in design._code_cache()

    monkeypatch.setattr(glm_mod, "_coded_frame", lambda d, names: d.data)  # formulaic alone
    for (f, fam), fit in zip(models, fits, strict=True):
        want = design.glm(f, family=fam)
        pd.testing.assert_frame_equal(fit.coefficients, want.coefficients)
        pd.testing.assert_frame_equal(fit.vcov, want.vcov)
        assert fit.n == want.n


def test_glm_keeps_text_used_inside_expressions() -> None:
    """A text column inside an expression (``I(grp == 'a')``) keeps its values."""
    import formulaic

    from kyodo_analysis.stats.glm import _plain_factors

    spec = formulaic.Formula("I(grp == 'a') ~ C(area) + v + grp:v + np.log(w)")
    assert _plain_factors(spec) == {"area", "v"}


def test_codes_are_narrow_and_widen_when_values_keep_coming(monkeypatch) -> None:
    """Codes take the narrowest signed type that holds them: int8 for a few values, wider
    once more than 127 distinct values have been seen, also when they first appear in a
    later slice of rows (the codes so far are widened and renumbered); always the codes
    of pandas.factorize(sort=True). A categorical with every category present keeps its
    category codes; the raking cells and several by-columns combine narrow codes."""
    monkeypatch.setattr(design_mod, "_SLICE_ROWS", 64)
    few = pd.Series(["b", "a", "c"] * 50, dtype="str")
    assert _sorted_codes(few)[0].dtype == np.int8
    many = [a + b for a in "abcdefghijklm" for b in "abcdefghijklmnopqrstuvwxyz"][:300]  # a table each
    wide = pd.Series([f"v{i:03d}" for i in range(300)], dtype="str")  # keys too spread: the wide route
    assert _sorted_codes(wide)[0].dtype == np.int16
    late = many[:40] * 3 + many[::-1]  # 260 values first seen after the first slices
    for values in (late, many[:100] * 2 + many[100:]):
        s = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(values, type=pa.large_string())])))
        codes, _ = _sorted_codes(s)
        assert codes.dtype == np.int16
        _assert_like_factorize(s)
    cat = pd.Series(pd.Categorical(["x", "y", None, "x"], categories=["y", "x"]))
    codes, uniques = _sorted_codes(cat)
    assert codes.dtype == np.int8 and codes.tolist() == [1, 0, -1, 1] and list(uniques) == ["y", "x"]
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.choice(["p", "q", "r"], 500), "b": rng.choice(many[:150], 500),
                          "y": rng.normal(size=500), "w": rng.uniform(1, 2, 500)})
    frame.loc[::50, "a"] = None
    design = SurveyDesign(frame.astype({"a": "str", "b": "str"}), weights="w")
    got = design.mean("y", by=["a", "b"], na_rm=True)
    ref = SurveyDesign(frame.astype({"a": object, "b": object}), weights="w").mean("y", by=["a", "b"], na_rm=True)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)
