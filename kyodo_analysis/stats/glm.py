"""Design-based generalised linear models (R ``svyglm``; Binder 1983)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats import _dist

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["SvyGLMResult", "svyglm"]

Family = Literal["gaussian", "binomial", "poisson", "quasibinomial", "quasipoisson"]


@dataclass(frozen=True)
class SvyGLMResult:
    """Fitted design-based GLM.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        Indexed by term: ``estimate, se, t, p`` (``p`` two-sided from t(df_residual)).
    vcov : pandas.DataFrame
        Design-based (sandwich) covariance of the coefficients.
    df_residual : float
        ``degf(design) + 1 - number of coefficients`` (R ``svyglm``).
    dispersion : float
        Design-based variance of the Pearson residuals (R ``summary.svyglm``).
    family : str
    n : int
        Rows used.
    """

    coefficients: pd.DataFrame
    vcov: pd.DataFrame
    df_residual: float
    dispersion: float
    family: str
    n: int


def _family(family: str) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    if family == "gaussian":
        return (
            lambda eta: eta,
            lambda mu: mu,
            lambda mu: np.ones_like(mu),
            lambda eta: np.ones_like(eta),
        )
    if family in ("binomial", "quasibinomial"):

        def inv(eta: np.ndarray) -> np.ndarray:
            return np.asarray(1 / (1 + np.exp(-eta)))

        return (
            inv,
            lambda mu: np.log(mu / (1 - mu)),
            lambda mu: mu * (1 - mu),
            lambda eta: inv(eta) * (1 - inv(eta)),
        )
    if family in ("poisson", "quasipoisson"):
        return (np.exp, np.log, lambda mu: mu, np.exp)
    raise EstimationError(f"unknown family {family!r}")


def _irls(
    x: np.ndarray, y: np.ndarray, pw: np.ndarray, family: str
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted maximum likelihood by Fisher scoring (canonical links); returns beta, mu."""
    inv, link, var, mu_eta = _family(family)
    keep = pw > 0
    if not keep.all():
        # as R's glm.fit, rows with a non-positive weight do not enter the fit (linear
        # calibration of a replicate whose PSUs were dropped can give negative weights)
        beta, _ = _irls(x[keep], y[keep], pw[keep], family)
        return beta, inv(x @ beta)
    if family == "gaussian":
        sw = np.sqrt(pw)
        beta = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
        return beta, x @ beta
    if family in ("binomial", "quasibinomial"):
        mu = (pw * y + 0.5) / (pw + 1)
    else:
        mu = y + 0.1
    eta = link(mu)
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        me = mu_eta(eta)
        z = eta + (y - mu) / me
        ww = pw * me**2 / var(mu)
        sw = np.sqrt(ww)
        new = np.linalg.lstsq(x * sw[:, None], z * sw, rcond=None)[0]
        eta = x @ new
        mu = inv(eta)
        done = np.max(np.abs(new - beta)) <= 1e-13 * (1 + np.max(np.abs(new)))
        beta = new
        if done:
            break
    else:
        raise EstimationError("svyglm: IRLS did not converge in 100 iterations")
    return beta, mu


def _plain_factors(spec: Any) -> set[str]:
    """Variables a formula uses only as themselves or as ``C(name)`` (never inside another
    expression, such as ``I(x == 'Yes')``, which needs the values as they are)."""
    plain: set[str] = set()
    other: set[str] = set()
    for side in (getattr(spec, "lhs", None), getattr(spec, "rhs", None)):
        for term in side if side is not None else ():
            for factor in getattr(term, "factors", ()):
                expr = str(factor.expr)
                method = getattr(factor.eval_method, "name", "")
                inner = re.fullmatch(r"C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)", expr)
                if method == "LOOKUP":
                    plain.add(expr)
                elif inner is not None:
                    plain.add(inner.group(1))
                elif method != "LITERAL":
                    other.update(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", expr))
    return plain - other


def _coded_frame(design: _BaseDesign, names: Iterable[str]) -> pd.DataFrame:
    """The design's data with the text columns among ``names`` as categoricals built from the
    design's cached column codes (:meth:`_BaseDesign._column_codes`), so a factor costs no
    hashing once a domain, a margin or a cross-tab has coded it (and codes it for them).

    The levels are the sorted distinct values, as formulaic finds them from the text, so the
    model matrix is the same; categorical columns are left alone (formulaic uses their
    codes, and unobserved categories keep their columns as before).
    """
    frame = design.data
    text = [
        c
        for c in names
        if c in frame.columns
        and not isinstance(frame[c].dtype, pd.CategoricalDtype)
        and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype))
    ]
    design._prefetch_codes(text)
    coded = {}
    for c in text:
        try:
            codes, uniques = design._column_codes(c)
        except TypeError:  # values that do not sort (mixed types): formulaic's business
            continue
        coded[c] = pd.Categorical.from_codes(codes, categories=pd.Index(uniques))
    return frame.assign(**coded) if coded else frame


def svyglm(design: _BaseDesign, formula: str, *, family: Family = "gaussian") -> SvyGLMResult:
    r"""Fit a GLM by design-weighted estimating equations with sandwich variance.

    The coefficients solve ``sum_i w_i x_i (y_i - mu_i) = 0`` (canonical links); the
    variance is ``A^{-1} V A^{-1}`` with ``A = X' W X`` and ``V`` the design covariance
    of the total of the scores ``w_i x_i (y_i - mu_i)``, computed by the full multistage
    estimator (Binder 1983; Lumley 2010, ch. 5), or refits with the replicate weights.
    Weights are rescaled to mean one as in R ``svyglm`` (this only affects the dispersion).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula : str
        Wilkinson formula (``formulaic``); quote awkward names with backticks.
    family : str
        ``gaussian`` (identity), ``binomial``/``quasibinomial`` (logit),
        ``poisson``/``quasipoisson`` (log). Binomial and quasibinomial give the same fit
        and standard errors (design-based variance does not use the dispersion).

    Returns
    -------
    SvyGLMResult

    Raises
    ------
    EstimationError
        Unknown family, non-convergence, rank-deficient model matrix.

    Examples
    --------
    ``design``: the demo's FY2025 design. Taking part in a neighbourhood activity by sex:

    >>> fit = svyglm(design, "q3_1 ~ C(reg_sex)", family="quasibinomial")
    >>> print(fit.coefficients[["estimate", "se"]].round(4).to_string())
                     estimate      se
    term
    Intercept         -0.5885  0.0784
    C(reg_sex)[T.2]    0.0789  0.1060
    """
    import formulaic

    _family(family)
    frame = design.data
    try:
        spec = formulaic.Formula(formula)
        mm = formulaic.model_matrix(spec, _coded_frame(design, _plain_factors(spec)), na_action="ignore")
    except Exception as exc:  # formulaic raises several exception types
        raise EstimationError(f"cannot build the model matrix for {formula!r}: {exc}") from exc
    yv = np.asarray(mm.lhs, dtype=float)
    if yv.ndim == 2:
        if yv.shape[1] != 1:
            raise EstimationError("the response must be a single column")
        yv = yv[:, 0]
    xv = np.asarray(mm.rhs, dtype=float)
    terms = list(mm.rhs.columns)
    w0 = design._w
    active0 = w0 != 0
    nas = np.isnan(yv) | np.isnan(xv).any(axis=1)
    active = active0 & ~nas
    pw_all = w0 / w0[active0].mean()
    x, y, pw = xv[active], yv[active], pw_all[active]
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise EstimationError(f"model matrix of {formula!r} is rank deficient")
    beta, mu = _irls(x, y, pw, family)
    _, _, var, mu_eta = _family(family)
    eta = x @ beta
    me = mu_eta(eta)
    ww = pw * me**2 / var(mu)
    ainv = np.linalg.inv(x.T @ (x * ww[:, None]))
    if design._is_replicate:

        def refit(wr: np.ndarray) -> np.ndarray:
            keep = active & (wr != 0)
            b, _ = _irls(xv[keep], yv[keep], wr[keep] / w0[active0].mean(), family)
            return b

        cov = design._replicate_refit_cov(refit, beta)  # type: ignore[attr-defined]
    else:
        est = np.zeros((len(frame), x.shape[1]))
        est[active] = (x * (pw * (y - mu) * me / var(mu))[:, None]) @ ainv
        cov = design.scores_vcov(est, active)  # type: ignore[attr-defined]
    se = np.sqrt(np.diag(cov))
    design_df = float(design._degf(active, np.zeros(len(frame), dtype=np.int64), 1)[0])
    df_res = design_df + 1 - len(beta)
    t = beta / se
    p = 2 * _dist.t_sf(np.abs(t), df_res) if df_res > 0 else np.full(len(t), np.nan)
    # dispersion: svyvar of the Pearson residuals (y - mu)/sqrt(V(mu)) over the rows used
    # (R's residuals.svyglm divides the prior weights back out)
    r = (y - mu) / np.sqrt(var(mu))
    wd = w0[active]
    if design._is_replicate:
        # R summary.svrepglm: sum(pw * presid^2) / sum(pw), presid scaled by sqrt(n)
        disp = float(len(frame) * np.sum(wd * r**2) / np.sum(w0))
    else:
        rbar = np.sum(wd * r) / np.sum(wd)
        nobs = len(r)
        disp = float(np.sum(wd * (r - rbar) ** 2) / np.sum(wd) * nobs / (nobs - 1))
    idx = pd.Index(terms, name="term")
    coefs = pd.DataFrame({"estimate": beta, "se": se, "t": t, "p": p}, index=idx)
    return SvyGLMResult(
        coefficients=coefs,
        vcov=pd.DataFrame(cov, index=idx, columns=idx),
        df_residual=df_res,
        dispersion=disp,
        family=family,
        n=int(active.sum()),
    )
