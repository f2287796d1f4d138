"""Exploratory factor analysis on weighted Pearson correlations (R ``psych::fa``).

* Correlations: the weighted (design-weight) Pearson correlations of complete rows.
* Extraction: minimum residual (``minres``, unweighted least squares of the off-diagonal
  residuals; psych ``fm="minres"``) or maximum likelihood (``ml``). Both optimise the
  uniquenesses ``psi`` in ``[0.005, 1]`` (as psych) from ``1 - SMC``; loadings are the
  first ``q`` eigenvectors of ``R - diag(psi)`` scaled by the root eigenvalues (minres) or
  the ML solution ``psi^1/2 E (Lambda - 1)^1/2`` of ``psi^-1/2 R psi^-1/2`` (ml).
* Rotation: ``varimax`` (Kaiser-normalised, R ``stats::varimax``), ``oblimin``
  (gamma = 0, Jennrich's gradient projection, GPArotation ``oblimin``) or ``none``. As psych,
  factors are then ordered by the variance they explain and signed so that each column of
  loadings sums to a positive number.
* Factor scores: ``regression`` (Thurstone; weights ``R^-1 S``, ``S = L Phi`` the structure)
  on the standardised items (weighted means and SDs).
* Parallel analysis (Horn 1965, as psych ``fa.parallel``): eigenvalues of the observed
  correlation matrix (components) and of the reduced matrix with the communalities of a
  one-factor minres fit (factors), against the mean eigenvalues of the same quantities
  for random normal data of the same size; the number of factors is the number of leading
  observed factor eigenvalues above their simulated counterparts.

Our optimiser converges more tightly than psych's defaults (L-BFGS-B, GPA ``eps=1e-5``),
so agreement with psych is at the level of its tolerance (checked to 1e-4 on loadings in
``tests/test_factor.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

# scipy.optimize is imported inside the functions that fit: it is start-up every notebook
# kernel would pay for pages that never fit a factor model.
import numpy as np
import pandas as pd

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats._moments import weighted_covariance

if TYPE_CHECKING:
    from kyodo_analysis.stats.design import _BaseDesign

__all__ = ["FactorResult", "add_factor_scores", "cov_to_corr", "factor_analysis", "fit_factors", "oblimin",
           "parallel_analysis", "varimax"]

Method = Literal["minres", "ml"]
Rotation = Literal["oblimin", "varimax", "none"]


def cov_to_corr(c: np.ndarray) -> np.ndarray:
    s = 1 / np.sqrt(np.diag(c))
    r = c * s[:, None] * s[None, :]
    np.fill_diagonal(r, 1.0)
    return np.asarray(r)


_LO, _HI = 0.005, 1.0  # psych's bounds on the uniquenesses


def _uls_eigen(r: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (decreasing) and eigenvectors of ``r`` with ``1 - psi`` on the diagonal."""
    s = r.copy()
    np.fill_diagonal(s, 1 - psi)
    vals, vecs = np.linalg.eigh(s)  # increasing
    return vals[::-1], vecs[:, ::-1]


def _uls_loadings(r: np.ndarray, psi: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = _uls_eigen(r, psi)
    return vecs[:, :q] * np.sqrt(np.maximum(vals[:q], 0)), vals


def _uls_fn(psi: np.ndarray, r: np.ndarray, q: int) -> float:
    """Sum of squared off-diagonal residuals of the rank-q fit of ``r`` with ``1 - psi`` on
    the diagonal (psych's minres criterion)."""
    load, _ = _uls_loadings(r, psi, q)
    resid = r - load @ load.T
    np.fill_diagonal(resid, 0)
    return float(np.sum(resid**2))


def _uls_fixed_point(psi: np.ndarray, r: np.ndarray, q: int) -> np.ndarray:
    """Diagonal residual ``1 - psi - diag(L L')``: zero at the minres solution (the gradient
    psych's ``FAgr`` uses; the iterated principal-axis fixed point)."""
    load, _ = _uls_loadings(r, psi, q)
    return np.asarray(1 - psi - np.sum(load**2, axis=1))


def _uls_jacobian(psi: np.ndarray, r: np.ndarray, q: int) -> np.ndarray:
    """Jacobian of the diagonal residual :func:`_uls_fixed_point` in ``psi``.

    The residual is ``sum_{m>q} lambda_m v_m^2`` (``lambda_m, v_m`` the eigenpairs of
    ``S = R - diag(psi) + I``, decreasing); by eigenvalue perturbation
    ``d lambda_k / d psi_j = -v_jk^2`` and
    ``d v_k / d psi_j = -sum_{m != k} v_jm v_jk v_m / (lambda_k - lambda_m)``, so the
    derivative of ``lambda_k v_ik^2`` (``k <= q``, ``lambda_k > 0``) is
    ``-v_ik^2 v_jk^2 - 2 lambda_k v_ik v_jk sum_{m != k} v_im v_jm / (lambda_k - lambda_m)``.
    """
    vals, vecs = _uls_eigen(r, psi)
    jac = -np.eye(len(psi))
    for k in range(q):
        if vals[k] <= 0:
            continue
        vk = vecs[:, k]
        with np.errstate(divide="ignore"):
            inv_gap = 1 / (vals[k] - np.delete(vals, k))
        vm = np.delete(vecs, k, axis=1)
        jac += np.outer(vk**2, vk**2) + 2 * vals[k] * np.outer(vk, vk) * ((vm * inv_gap) @ vm.T)
    return jac


def _clipped_fixed_point(r: np.ndarray, q: int, start: np.ndarray, *,
                         maxit: int = 2000) -> np.ndarray:
    """The fixed point of iterated principal axes held inside the bounds,
    ``psi = clip(1 - diag(L L'), 0.005, 1)``, reached from ``start``.

    The iteration crawls when the criterion is flat (thousands of steps, and a cap stops it
    short), so it is accelerated by jumps: after 5, 10, 20, … steps the uniquenesses not at
    a bound are solved as the root of their diagonal residuals (Newton's method with the
    analytic Jacobian, else MINPACK ``hybrj``; the clipped ones held), and the root is the
    answer if it is the iteration's limit: inside the bounds, the held ones would stay
    clipped, and a minimum of the criterion in the free ones (the Jacobian negative
    definite; the iteration is repelled by a saddle). If there is no such root, one more is
    tried with a coordinate held at its bound: the furthest outside when the root lies
    outside the bounds, else the smallest uniqueness at 0.005 (a Heywood case). Otherwise
    the iteration goes on (at most ``maxit`` steps in all)."""
    psi = np.clip(start, _LO, _HI)
    done, block = 0, 5
    while done < maxit:
        for _ in range(min(block, maxit - done)):
            load, _ = _uls_loadings(r, psi, q)
            new = np.clip(1 - np.sum(load**2, axis=1), _LO, _HI)
            if np.max(np.abs(new - psi)) < 1e-10:
                return np.asarray(new)
            psi = new
        done += block
        block *= 2
        trial = psi.copy()
        for _ in range(2):
            held = (trial == _LO) | (trial == _HI)
            sol, outside = _held_root(r, q, trial, held)
            if sol is not None:
                return sol
            if outside is None:  # no root inside: try the smallest free one at the bound
                if held.all():
                    break
                outside = (int(np.argmin(np.where(held, np.inf, trial))), _LO)
            trial[outside[0]] = outside[1]
    return np.asarray(psi)


def _held_root(r: np.ndarray, q: int, psi: np.ndarray, held: np.ndarray
               ) -> tuple[np.ndarray | None, tuple[int, float] | None]:
    """Root of the diagonal residuals of the free uniquenesses (``held`` ones at their
    values) if it is a fixed point of the clipped iteration (see
    :func:`_clipped_fixed_point`), else ``None``; and, when the root lies outside the
    bounds, the free coordinate furthest outside with the bound it crossed."""
    from scipy import optimize

    free = ~held
    if not free.any():
        return None, None

    def full(v: np.ndarray) -> np.ndarray:
        out = psi.copy()
        out[free] = v
        return out

    def f(v: np.ndarray) -> np.ndarray:
        return np.asarray(_uls_fixed_point(full(v), r, q)[free])

    def jac(v: np.ndarray) -> np.ndarray:
        return np.asarray(_uls_jacobian(full(v), r, q)[np.ix_(free, free)])

    # Newton's method (near a solution, a handful of steps), else MINPACK's hybrid method
    x = psi[free].copy()
    for _ in range(8):
        fx = f(x)
        if np.max(np.abs(fx)) < 1e-13 or not np.all(np.isfinite(x)):
            break
        try:
            x = x - np.linalg.solve(jac(x), fx)
        except np.linalg.LinAlgError:
            break
    if not (np.all(np.isfinite(x)) and np.max(np.abs(f(x))) < 1e-12):
        sol = optimize.root(f, psi[free], jac=jac, method="hybr", tol=1e-14,
                            options={"maxfev": 200})
        if not np.max(np.abs(sol.fun)) < 1e-12:
            return None, None
        x = sol.x
    cand = full(x)
    out = free & ((cand < _LO) | (cand > _HI))
    if out.any():
        j = int(np.argmax(np.where(out, np.maximum(_LO - cand, cand - _HI), -np.inf)))
        return None, (j, _LO if cand[j] < _LO else _HI)
    jf = jac(x)
    if np.linalg.eigvalsh((jf + jf.T) / 2).max() >= 0:
        return None, None
    raw = cand + _uls_fixed_point(cand, r, q)  # 1 - diag(L L')
    if np.any(held & (((cand == _LO) & (raw > _LO)) | ((cand == _HI) & (raw < _HI)))):
        return None, None
    return cand, None


def _minres_psi(r: np.ndarray, q: int, start: np.ndarray, *,
                bounded: Literal["psych", "iterate"] = "psych") -> np.ndarray:
    """Uniquenesses of the minres solution.

    ``bounded="psych"`` (point estimates): the root of the diagonal residual (psych's
    gradient; MINPACK ``hybrj`` with the analytic Jacobian, judged by its residual) when it
    lies inside psych's bounds ``[0.005, 1]``; otherwise (a Heywood case) psych's own
    procedure, L-BFGS-B on the criterion with that gradient from ``1 - SMC``.
    ``bounded="iterate"`` (replicate refits, started at the full-sample solution): the
    limit of iterated principal axes held inside the bounds, solved exactly
    (:func:`_clipped_fixed_point`); the same root when it lies inside the bounds."""
    from scipy import optimize

    if bounded == "iterate":
        return _clipped_fixed_point(r, q, start)
    sol = optimize.root(_uls_fixed_point, start, args=(r, q), jac=_uls_jacobian,
                        method="hybr", tol=1e-14)
    # MINPACK reports "xtol too small" at an exact root: judge by the residual
    if np.max(np.abs(sol.fun)) < 1e-12 and sol.x.min() >= _LO and sol.x.max() <= _HI:
        return np.asarray(sol.x)
    res = optimize.minimize(_uls_fn, start, args=(r, q), method="L-BFGS-B",
                            jac=lambda v, r, q: -_uls_fixed_point(v, r, q),
                            bounds=[(_LO, _HI)] * len(start))
    return np.asarray(res.x)


def _ml_fn(psi: np.ndarray, r: np.ndarray, q: int) -> float:
    sc = 1 / np.sqrt(psi)
    sstar = r * sc[:, None] * sc[None, :]
    vals = np.sort(np.linalg.eigvalsh(sstar))[::-1]
    e = vals[q:]
    return float(-np.sum(np.log(e) - e + 1))


def fit_factors(r: np.ndarray, q: int, *, method: Method = "minres",
                start: np.ndarray | None = None,
                bounded: Literal["psych", "iterate"] = "psych") -> tuple[np.ndarray, np.ndarray]:
    """Unrotated loadings ``(p, q)`` and uniquenesses of correlation matrix ``r``.

    ``start``: starting uniquenesses (default ``1 - SMC``, as psych; a nearby solution
    speeds up refits of replicates). ``bounded``: how a Heywood case (a uniqueness at the
    bound 0.005) is solved: psych's L-BFGS-B, or iterated principal axes held in the bounds
    (faster; used for replicate refits, where only the spread matters)."""
    from scipy import optimize

    p = r.shape[0]
    if not 1 <= q < p:
        raise EstimationError(f"number of factors must be between 1 and {p - 1}, got {q}")
    if start is None:
        start = 1 / np.diag(np.linalg.inv(r))  # 1 - SMC
    bounds = [(0.005, 1.0)] * p
    if method == "minres":
        psi = _minres_psi(r, q, start, bounded=bounded)
        load, _ = _uls_loadings(r, psi, q)
    elif method == "ml":
        res = optimize.minimize(lambda s: _ml_fn(s, r, q), start, method="L-BFGS-B",
                                bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-12,
                                                        "maxiter": 5000})
        psi = res.x
        sc = 1 / np.sqrt(psi)
        vals, vecs = np.linalg.eigh(r * sc[:, None] * sc[None, :])
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
        load = np.sqrt(psi)[:, None] * vecs[:, :q] * np.sqrt(np.clip(vals[:q] - 1, 0, None))
    else:
        raise EstimationError(f"unknown extraction method {method!r} (minres or ml)")
    psi = 1 - np.sum(load**2, axis=1)
    sign = np.sign(load.sum(axis=0))  # psych: every column sums to a positive number
    return load * np.where(sign == 0, 1, sign), psi


def varimax(load: np.ndarray, *, normalize: bool = True, eps: float = 1e-5,
            maxit: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Varimax rotation (R ``stats::varimax``); returns rotated loadings and the rotation."""
    x = load.copy()
    p, nc = x.shape
    if nc < 2:
        return x, np.eye(nc)
    sc = np.sqrt(np.sum(x**2, axis=1)) if normalize else np.ones(p)
    x = x / sc[:, None]
    tmat = np.eye(nc)
    d = 0.0
    for _ in range(maxit):
        z = x @ tmat
        b = x.T @ (z**3 - z @ np.diag(np.sum(z**2, axis=0)) / p)
        u, s, vt = np.linalg.svd(b)
        tmat = u @ vt
        dpast, d = d, float(np.sum(s))
        if d < dpast * (1 + eps):
            break
    z = (x @ tmat) * sc[:, None]
    return z, tmat


def oblimin(load: np.ndarray, *, gamma: float = 0.0, eps: float = 1e-5,
            maxit: int = 1000, start: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Oblimin rotation by gradient projection (Jennrich 2002; GPArotation ``GPFoblq``).

    Returns the pattern loadings and the factor correlation matrix ``Phi = T'T``. The
    defaults (identity start, ``eps=1e-5``, ``maxit=1000``) are GPArotation's, so the
    result is psych's to its own tolerance; :func:`oblimin_rotation` gives the rotation
    matrix itself (for a tight, warm-started solution).
    """
    lam, tmat = oblimin_rotation(load, gamma=gamma, eps=eps, maxit=maxit, start=start)
    return lam, tmat.T @ tmat


def oblimin_rotation(load: np.ndarray, *, gamma: float = 0.0, eps: float = 1e-5,
                     maxit: int = 1000, start: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Pattern loadings and the oblique rotation matrix ``T`` (``L = A T'^-1``)."""
    a = load
    k = a.shape[1]
    if k < 2:
        return a.copy(), np.eye(k)
    off = 1 - np.eye(k)
    inv = np.linalg.inv

    def crit(lam: np.ndarray) -> tuple[float, np.ndarray]:
        l2 = lam**2
        x = l2 @ off
        if gamma:
            p = lam.shape[0]
            x = (np.eye(p) - gamma / p * np.ones((p, p))) @ x
        return float(np.sum(l2 * x) / 4), lam * x

    tmat = np.eye(k) if start is None else np.asarray(start, dtype=float)
    tinv = inv(tmat)
    lam = a @ tinv.T
    f, gq = crit(lam)
    g = -(lam.T @ gq @ tinv).T
    al = 1.0
    for _ in range(maxit):
        gp = g - tmat @ np.diag(np.sum(tmat * g, axis=0))
        s = float(np.sqrt(np.sum(gp**2)))
        if s < eps:
            break
        al *= 2
        for _ in range(11):
            xm = tmat - al * gp
            v = 1 / np.sqrt(np.sum(xm**2, axis=0))
            tt = xm * v[None, :]
            tinv = inv(tt)
            lam = a @ tinv.T
            ft, gqt = crit(lam)
            if f - ft > 0.5 * s**2 * al:
                break
            al /= 2
        tmat, f = tt, ft
        g = -(lam.T @ gqt @ tinv).T
    lam = a @ inv(tmat).T
    return lam, tmat


@dataclass(frozen=True)
class FactorResult:
    """A fitted factor model.

    Attributes
    ----------
    loadings : DataFrame
        Pattern loadings (items x factors ``MR1``…/``ML1``…).
    communalities : Series
        ``h2`` (row sums of ``L Phi L'`` diagonal); ``uniquenesses`` = ``1 - h2``.
    phi : DataFrame
        Factor correlations (identity for orthogonal rotations).
    correlation : DataFrame
        The (weighted) correlation matrix analysed.
    method, rotation : str
    n : int
        Complete rows used.
    """

    loadings: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    phi: pd.DataFrame
    correlation: pd.DataFrame
    method: str
    rotation: str
    n: int
    means: pd.Series
    sds: pd.Series

    def scores(self, data: pd.DataFrame) -> pd.DataFrame:
        """Regression (Thurstone) factor scores of the rows of ``data`` (columns named as
        the items; NaN where an item is missing)."""
        items = list(self.loadings.index)
        z = (data[items].to_numpy(dtype=float) - self.means.to_numpy()) / self.sds.to_numpy()
        struct = self.loadings.to_numpy() @ self.phi.to_numpy()
        wts = np.linalg.solve(self.correlation.to_numpy(), struct)
        return pd.DataFrame(z @ wts, columns=self.loadings.columns, index=data.index)

    def table(self) -> pd.DataFrame:
        """Loadings with ``h2`` and ``u2`` columns (psych's print layout)."""
        return self.loadings.assign(h2=self.communalities, u2=self.uniquenesses)


def _order_and_sign(load: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ev = np.diag(phi @ load.T @ load)
    order = np.argsort(-ev, kind="stable")
    load, phi = load[:, order], phi[np.ix_(order, order)]
    sign = np.sign(load.sum(axis=0))
    sign[sign == 0] = 1
    return load * sign, phi * np.outer(sign, sign)


def factor_analysis_corr(r: np.ndarray, q: int, *, method: Method = "minres",
                         rotation: Rotation = "oblimin") -> tuple[np.ndarray, np.ndarray]:
    """Rotated, ordered and signed loadings and Phi of a correlation matrix."""
    load, _ = fit_factors(r, q, method=method)
    if rotation == "none" or q == 1:
        phi = np.eye(q)
    elif rotation == "varimax":
        load, _ = varimax(load)
        phi = np.eye(q)
    elif rotation == "oblimin":
        load, phi = oblimin(load)
    else:
        raise EstimationError(f"unknown rotation {rotation!r} (oblimin, varimax or none)")
    if rotation == "none":
        return load, phi
    return _order_and_sign(load, phi)


def _scores_matrix(design: _BaseDesign | None, data: pd.DataFrame, items: Sequence[str],
                   weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    x = data[list(items)].to_numpy(dtype=float)
    w = (design.weights if design is not None else
         (np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)))
    return x, w


def factor_analysis(data: pd.DataFrame, items: Sequence[str], n_factors: int, *,
                    weights: np.ndarray | None = None, method: Method = "minres",
                    rotation: Rotation = "oblimin") -> FactorResult:
    """Exploratory factor analysis of ``items`` on weighted Pearson correlations.

    Parameters
    ----------
    data : DataFrame
        Item scores (numeric; NaN = missing, rows with any missing item are left out).
    items : sequence of str
    n_factors : int
    weights : ndarray, optional
        Survey weights (``design.weights``); default equal weights.
    method : {"minres", "ml"}
    rotation : {"oblimin", "varimax", "none"}

    Returns
    -------
    FactorResult
    """
    x, w = _scores_matrix(None, data, items, weights)
    keep = ~np.isnan(x).any(axis=1) & (w != 0)
    if keep.sum() <= len(items):
        raise EstimationError(f"factor analysis needs more complete rows than items "
                              f"({int(keep.sum())} rows, {len(items)} items)")
    c = weighted_covariance(x, w)
    r = cov_to_corr(c)
    load, phi = factor_analysis_corr(r, n_factors, method=method, rotation=rotation)
    prefix = "MR" if method == "minres" else "ML"
    cols = [f"{prefix}{i + 1}" for i in range(n_factors)]
    h2 = np.diag(load @ phi @ load.T)
    idx = pd.Index(list(items))
    wk = w[keep]
    mu = wk @ x[keep] / wk.sum()
    return FactorResult(
        loadings=pd.DataFrame(load, index=idx, columns=cols),
        communalities=pd.Series(h2, index=idx, name="h2"),
        uniquenesses=pd.Series(1 - h2, index=idx, name="u2"),
        phi=pd.DataFrame(phi, index=cols, columns=cols),
        correlation=pd.DataFrame(r, index=idx, columns=idx),
        method=method, rotation=rotation, n=int(keep.sum()),
        means=pd.Series(mu, index=idx),
        # weighted SD with the n/(n-1) correction (R's sd() when the weights are equal)
        sds=pd.Series(np.sqrt(np.diag(c) * keep.sum() / (keep.sum() - 1)), index=idx),
    )


def add_factor_scores(design: _BaseDesign, result: FactorResult, scores: pd.DataFrame, *,
                      names: Sequence[str] | None = None) -> _BaseDesign:
    """The design with the regression factor scores as new columns (NaN where an item is
    missing), for later models (``svyglm``) and tables.

    ``scores`` holds the item scores aligned with ``design.data``; ``names`` default to the
    factor names (``MR1``, …).
    """
    fs = result.scores(scores)
    names = list(names) if names is not None else list(fs.columns)
    if len(names) != fs.shape[1]:
        raise EstimationError(f"{len(names)} names for {fs.shape[1]} factors")
    return design.assign(**{n: fs.iloc[:, i].to_numpy() for i, n in enumerate(names)})


def _reduced_eigen(r: np.ndarray) -> np.ndarray:
    _, psi = fit_factors(r, 1)
    s = r.copy()
    np.fill_diagonal(s, 1 - psi)
    return np.sort(np.linalg.eigvalsh(s))[::-1]


def parallel_analysis(data: pd.DataFrame, items: Sequence[str], *,
                      weights: np.ndarray | None = None, n_iter: int = 20,
                      seed: int = 0) -> tuple[pd.DataFrame, int, int]:
    """Horn's parallel analysis; returns the eigenvalue table, the number of factors and
    the number of components.

    The table has one row per position: ``observed_pc`` (eigenvalues of the weighted
    correlation matrix), ``observed_fa`` (of the reduced matrix, one-factor minres
    communalities on the diagonal, psych ``fa.values``), ``simulated_pc``/``simulated_fa``
    (means over ``n_iter`` random normal data sets of the same size). The number of factors
    is the count of leading ``observed_fa`` values above ``simulated_fa`` (psych's rule; at
    least 1); the number of components the same for ``observed_pc``/``simulated_pc``.
    """
    x, w = _scores_matrix(None, data, items, weights)
    keep = ~np.isnan(x).any(axis=1) & (w != 0)
    r = cov_to_corr(weighted_covariance(x, w))
    n, p = int(keep.sum()), len(items)
    obs_pc = np.sort(np.linalg.eigvalsh(r))[::-1]
    obs_fa = _reduced_eigen(r)
    rng = np.random.default_rng(seed)
    sim_pc, sim_fa = np.zeros(p), np.zeros(p)
    for _ in range(n_iter):
        z = rng.standard_normal((n, p))
        rz = np.asarray(np.corrcoef(z, rowvar=False))
        sim_pc += np.sort(np.linalg.eigvalsh(rz))[::-1] / n_iter
        sim_fa += _reduced_eigen(rz) / n_iter
    above = obs_fa > sim_fa
    n_factors = int(np.argmin(above)) if not above.all() else p
    above_pc = obs_pc > sim_pc
    n_components = int(np.argmin(above_pc)) if not above_pc.all() else p
    table = pd.DataFrame({"position": np.arange(1, p + 1), "observed_pc": obs_pc,
                          "observed_fa": obs_fa, "simulated_pc": sim_pc,
                          "simulated_fa": sim_fa})
    return table, max(n_factors, 1), n_components
