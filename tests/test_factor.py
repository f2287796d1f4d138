"""Factor analysis against R psych::fa (tests/fixtures/r/psych_reference.R), up to sign and
column order; parallel analysis; factor scores as design variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from psych_support import ITEMS, ITEMS9, psych_record

from kyodo_analysis.stats import SurveyDesign
from kyodo_analysis.stats.factor import (
    add_factor_scores,
    factor_analysis,
    fit_factors,
    oblimin,
    parallel_analysis,
)


def _match(ours: np.ndarray, ref: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Column permutation and signs of ``ours`` that best match ``ref``."""
    import itertools

    best = None
    for perm in itertools.permutations(range(ref.shape[1])):
        o = ours[:, perm]
        sign = np.sign(np.sum(o * ref, axis=0))
        err = np.abs(o * sign - ref).max()
        if best is None or err < best[0]:
            best = (err, list(perm), sign)
    assert best is not None
    return best[1], best[2]


@pytest.mark.parametrize("call,cols,nf,method,rotation", [
    ("psych::fa(Xk, nfactors = 2, fm = 'minres', rotate = 'oblimin', scores = 'regression')",
     ITEMS, 2, "minres", "oblimin"),
    ("psych::fa(Xk, nfactors = 2, fm = 'minres', rotate = 'varimax', scores = 'regression')",
     ITEMS, 2, "minres", "varimax"),
    ("psych::fa(Xk, nfactors = 2, fm = 'ml', rotate = 'oblimin', scores = 'regression')",
     ITEMS, 2, "ml", "oblimin"),
    ("psych::fa(X9, nfactors = 3, fm = 'minres', rotate = 'oblimin', scores = 'regression')",
     ITEMS9, 3, "minres", "oblimin"),
    ("psych::fa(Xk, nfactors = 1, fm = 'minres', rotate = 'none')", ITEMS, 1, "minres", "none"),
])
def test_fa_matches_psych(psych_data, call, cols, nf, method, rotation):
    ref = psych_record(call)
    res = factor_analysis(psych_data, cols, nf, method=method, rotation=rotation)
    lref = np.array(ref["loadings"]).reshape(len(cols), nf)
    ours = res.loadings.to_numpy()
    perm, sign = _match(ours, lref)
    np.testing.assert_allclose(ours[:, perm] * sign, lref, atol=1e-4)
    np.testing.assert_allclose(res.communalities.to_numpy(), ref["h2"], atol=1e-4)
    phi = res.phi.to_numpy()[np.ix_(perm, perm)] * np.outer(sign, sign)
    np.testing.assert_allclose(phi, np.array(ref["phi"]).reshape(nf, nf), atol=1e-4)
    if "scores" in ref and rotation != "none":
        sc = res.scores(psych_data[cols]).to_numpy()[:10][:, perm] * sign
        np.testing.assert_allclose(sc, np.array(ref["scores"]).reshape(10, nf), atol=1e-3)


def test_parallel_analysis_observed_values_match_psych(psych_data):
    ref = psych_record("psych::fa(Xk, nfactors = 1, fm = 'minres', rotate = 'none')")
    table, n_factors, _ = parallel_analysis(psych_data, ITEMS, n_iter=10)
    np.testing.assert_allclose(table["observed_pc"], ref["e_values"], atol=1e-10)
    np.testing.assert_allclose(table["observed_fa"], ref["values"], atol=1e-5)
    assert n_factors == 2  # two factors generated


def test_parallel_analysis_three_groups_and_noise(psych_data):
    assert parallel_analysis(psych_data, ITEMS9, n_iter=10)[1] == 3
    rng = np.random.default_rng(3)
    noise = pd.DataFrame(rng.standard_normal((400, 6)), columns=list("uvwxyz"))
    assert parallel_analysis(noise, list("uvwxyz"), n_iter=10)[2] == 0  # no component


def test_weights_equal_is_unweighted_and_integer_weights_duplicate(psych_data):
    a = factor_analysis(psych_data, ITEMS, 2).loadings.to_numpy()
    b = factor_analysis(psych_data, ITEMS, 2, weights=np.full(len(psych_data), 3.0)).loadings.to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-10)
    w = psych_data["stratum"].to_numpy()
    dup = psych_data.loc[psych_data.index.repeat(w)].reset_index(drop=True)
    c = factor_analysis(psych_data, ITEMS, 2, weights=w).loadings.to_numpy()
    d = factor_analysis(dup, ITEMS, 2).loadings.to_numpy()
    np.testing.assert_allclose(c, d, atol=1e-6)


def test_oblimin_is_a_rotation_that_preserves_communalities(psych_data):
    r = np.corrcoef(psych_data[ITEMS9].to_numpy(float), rowvar=False)
    load, _ = fit_factors(r, 3)
    pattern, phi = oblimin(load, eps=1e-10)
    np.testing.assert_allclose(np.diag(pattern @ phi @ pattern.T), np.sum(load**2, axis=1),
                               atol=1e-10)
    np.testing.assert_allclose(np.diag(phi), 1.0, atol=1e-12)


def test_factor_scores_as_design_variable(psych_data):
    d = SurveyDesign(psych_data, weights="w", strata="stratum")
    res = factor_analysis(psych_data, ITEMS, 2, weights=d.weights)
    d2 = add_factor_scores(d, res, psych_data[ITEMS], names=["f_a", "f_b"])
    m = d2.mean(["f_a", "f_b"])
    assert np.abs(m["estimate"]).max() < 1e-10  # weighted mean zero by construction
    fit = d2.glm("y ~ f_a + f_b", family="quasibinomial")
    assert fit.coefficients.loc["f_a", "estimate"] != 0
