"""Replicate-weight designs (R ``svrepdesign`` / ``as.svrepdesign``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from kyodo_analysis.errors import EstimationError
from kyodo_analysis.stats.design import _BaseDesign

if TYPE_CHECKING:
    from kyodo_analysis.stats.calibrated import WeightingStep
    from kyodo_analysis.stats.design import SurveyDesign

__all__ = ["ReplicateDesign", "to_replicate"]

ReplicateType = Literal["JK1", "JKn", "bootstrap", "BRR", "Fay", "other"]


class ReplicateDesign(_BaseDesign):
    r"""Design whose variance comes from replicate weights.

    ``V(theta) = scale * sum_r rscales_r (theta_r - c)(theta_r - c)'`` with ``theta_r``
    the estimate recomputed with replicate weights ``r`` and ``c`` the full-sample
    estimate (``mse=True``) or the mean of the replicates (``mse=False``, R's default)
    (Lumley 2010, ch. 2.3; R ``svrVar``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent.
    repweights : list of str or ndarray
        Replicate weight columns (or an ``(n, R)`` array).
    weights : str or ndarray
        Full-sample weights.
    type : str
        ``"JK1"``, ``"JKn"``, ``"bootstrap"``, ``"BRR"``, ``"Fay"`` or ``"other"``; sets
        the default ``scale`` (``(R-1)/R``, 1, ``1/(R-1)``, ``1/R``,
        ``1/(R (1-rho)^2)``, 1).
    scale : float, optional
        Overall multiplier.
    rscales : array-like, optional
        Per-replicate multipliers (default 1).
    mse : bool
        Centre at the full-sample estimate instead of the replicate mean.
    rho : float
        Fay coefficient (only for ``type="Fay"``).
    combined_weights : bool
        The replicate columns already include the sampling weights (R default). If
        False they are multiplied by ``weights``.
    degf : float, optional
        Design degrees of freedom; default rank of the replicate weights minus one (R).
    """

    _is_replicate = True
    _history: tuple[WeightingStep, ...] = ()

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        repweights: Sequence[str] | np.ndarray,
        weights: str | np.ndarray,
        type: ReplicateType = "other",
        scale: float | None = None,
        rscales: Sequence[float] | np.ndarray | None = None,
        mse: bool = False,
        rho: float = 0.0,
        combined_weights: bool = True,
        degf: float | None = None,
    ) -> None:
        self._frame = data.reset_index(drop=True)
        if isinstance(weights, str):
            if weights not in data.columns:
                raise EstimationError(f"weights column {weights!r} not in the data")
            w = pd.to_numeric(self._frame[weights]).to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
        if isinstance(repweights, np.ndarray):
            rw = np.asarray(repweights, dtype=float)
        else:
            cols = list(repweights)
            miss = [c for c in cols if c not in data.columns]
            if miss:
                raise EstimationError(f"replicate weight column(s) not in the data: {miss}")
            rw = self._frame[cols].to_numpy(dtype=float)
        if rw.shape[0] != len(self._frame) or len(w) != len(self._frame):
            raise EstimationError("replicate weights and weights must have one row per data row")
        if np.isnan(rw).any() or np.isnan(w).any():
            raise EstimationError("replicate or full-sample weights contain missing values")
        if not combined_weights:
            rw = rw * w[:, None]
        n_rep = rw.shape[1]
        if scale is None:
            scale = {
                "JK1": (n_rep - 1) / n_rep,
                "bootstrap": 1 / (n_rep - 1),
                "BRR": 1 / n_rep,
                "Fay": 1 / (n_rep * (1 - rho) ** 2),
            }.get(type, 1.0)
        self.type = type
        self.scale = float(scale)
        self.rscales = np.ones(n_rep) if rscales is None else np.asarray(rscales, dtype=float)
        if len(self.rscales) != n_rep:
            raise EstimationError(f"{len(self.rscales)} rscales for {n_rep} replicates")
        self.mse = bool(mse)
        self._w = w
        self._rw = rw
        self._degf_value = degf
        self._full_rank: float | None = None

    def __repr__(self) -> str:
        return (
            f"ReplicateDesign({len(self._frame)} rows, {self._rw.shape[1]} {self.type} replicates, "
            f"scale={self.scale:g}, mse={self.mse})"
        )

    @property
    def repweights(self) -> np.ndarray:
        """Replicate weights ``(n, R)`` (combined with the sampling weights)."""
        return self._rw.copy()

    @property
    def weighting_steps(self) -> tuple[WeightingStep, ...]:
        """Weighting steps applied to this replicate design (full sample and replicates)."""
        return self._history

    def _reweighted(self, w: np.ndarray, rw: np.ndarray, step: WeightingStep) -> ReplicateDesign:
        """A copy with new full-sample and replicate weights after a weighting step."""
        new = object.__new__(ReplicateDesign)
        new.__dict__.update(self.__dict__)
        new._w = np.asarray(w, dtype=float)
        new._rw = np.asarray(rw, dtype=float)
        new._full_rank = None
        new._history = (*self._history, step)
        return new

    # Weighting: every replicate is re-weighted (R rake/postStratify/calibrate/trimWeights of
    # a svyrep.design); the functions live in kyodo_analysis.stats.weighting, which builds on
    # this module, hence the import at call time.
    def rake(self, margins: Mapping[str, Any], **options: Any) -> ReplicateDesign:
        """Rake the full sample and every replicate; see :func:`.weighting.rake`."""
        from kyodo_analysis.stats.weighting import rake

        return rake(self, margins, **options)

    def poststratify(self, population: Any, **options: Any) -> ReplicateDesign:
        """Post-stratify the full sample and every replicate; see :func:`.weighting.poststratify`."""
        from kyodo_analysis.stats.weighting import poststratify

        return poststratify(self, population, **options)

    def calibrate(self, totals: Any, **options: Any) -> ReplicateDesign:
        """Calibrate the full sample and every replicate; see :func:`.weighting.calibrate`."""
        from kyodo_analysis.stats.weighting import calibrate

        return calibrate(self, totals, **options)

    def trim(self, lower: float | None = None, upper: float | None = None, *, strict: bool = False) -> ReplicateDesign:
        """Trim the full-sample and every replicate's weights; see :func:`.weighting.trim`."""
        from kyodo_analysis.stats.weighting import trim

        return trim(self, lower, upper, strict=strict)

    def _with_weights(self, w: np.ndarray) -> ReplicateDesign:
        new = object.__new__(ReplicateDesign)
        new.__dict__.update(self.__dict__)
        new._w = w
        new._rw = self._rw * (w != 0)[:, None]
        new._full_rank = None
        return new

    def _degf(self, active: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
        if self._degf_value is not None:
            return np.full(n_dom, float(self._degf_value))
        if n_dom == 1 and active.all() and (dom == 0).all():
            if self._full_rank is None:
                self._full_rank = float(np.linalg.matrix_rank(self._rw) - 1)
            return np.array([self._full_rank])
        out = np.empty(n_dom)
        for d in range(n_dom):
            rows = active & (dom == d)
            out[d] = np.linalg.matrix_rank(self._rw[rows]) - 1 if rows.any() else np.nan
        return out

    def _rep_domain_totals(self, x: np.ndarray, dom: np.ndarray, n_dom: int) -> np.ndarray:
        keep = np.flatnonzero(dom >= 0)
        ind = sparse.csr_matrix(
            (np.ones(len(keep)), (dom[keep], np.arange(len(keep)))), shape=(n_dom, len(keep))
        )
        rw = self._rw[keep]
        out = np.empty((rw.shape[1], n_dom, x.shape[1]))
        for j in range(x.shape[1]):
            out[:, :, j] = (ind @ (rw * x[keep, j][:, None])).T
        return out

    def _combine(self, thetas: np.ndarray, full: np.ndarray) -> np.ndarray:
        centre = full if self.mse else thetas.mean(axis=0)
        dev = thetas - centre
        return np.asarray(self.scale * (dev * self.rscales[:, None]).T @ dev)

    def _smooth_vcov(
        self,
        x: np.ndarray,
        dom: np.ndarray,
        n_dom: int,
        g: Callable[[np.ndarray], np.ndarray],
        jac: Callable[[np.ndarray], np.ndarray],
        totals: np.ndarray,
    ) -> np.ndarray:
        t_r = self._rep_domain_totals(x, dom, n_dom)
        with np.errstate(divide="ignore", invalid="ignore"):
            th = g(t_r).reshape(t_r.shape[0], -1)
            full = g(totals).reshape(-1)
        return self._combine(th, full)

    def _replicate_refit_cov(
        self, refit: Callable[[np.ndarray], np.ndarray], full: np.ndarray
    ) -> np.ndarray:
        th = np.vstack([refit(self._rw[:, r]) for r in range(self._rw.shape[1])])
        return self._combine(th, full)


def _hadamard(m: int) -> np.ndarray:
    """Sylvester Hadamard matrix of the smallest power-of-two order > m (first column all 1s)."""
    h = np.array([[1.0]])
    while h.shape[0] <= m:
        h = np.block([[h, h], [h, -h]])
    return h


def to_replicate(
    design: SurveyDesign,
    type: str = "auto",
    *,
    replicates: int = 50,
    rho: float = 0.5,
    mse: bool = False,
    seed: int | None = None,
    order: np.ndarray | None = None,
) -> ReplicateDesign:
    r"""Build replicate weights from a linearisation design (R ``as.svrepdesign``).

    * ``"JK1"``: delete-one-PSU jackknife (unstratified), multiplier ``G/(G-1)``,
      ``scale = (G-1)/G * (1 - f)`` with the first-stage sampling fraction ``f`` if known.
    * ``"JKn"``: stratified jackknife, multiplier ``n_h/(n_h-1)`` in the stratum of the
      deleted PSU, ``rscales_r = (n_h-1)/n_h * (1 - f_h)``.
    * ``"bootstrap"``: Rao–Wu rescaled bootstrap, ``n_h - 1`` PSUs drawn with
      replacement in each stratum, multiplier ``count * n_h/(n_h-1)``, ``scale = 1/(R-1)``.
    * ``"BRR"`` / ``"Fay"``: balanced repeated replication for two PSUs per stratum with a
      Sylvester Hadamard matrix; multipliers 2/0 (BRR) or ``2-rho``/``rho`` (Fay).
    * ``"auto"``: JK1 for unstratified designs, JKn otherwise (R's default).

    Only the first stage is replicated (ultimate cluster), as in R.

    ``order`` (bootstrap only): a sort key per row, e.g. the rank of each row in
    :func:`~kyodo_analysis.stats.segments.canonical_rows` over the columns an analysis uses.
    The draws then take each stratum's PSUs in the order of their rows' smallest key instead
    of the order of the rows, so the same records get the same replicate weights however the
    file orders them. Default: the PSUs' own order.

    Raises
    ------
    EstimationError
        BRR/Fay on strata without exactly two PSUs; unknown type.
    """
    st = design.stages[0]
    unit, ustr = st.unit, st.unit_stratum
    n_h = st.n_sampled
    with np.errstate(divide="ignore", invalid="ignore"):
        f_h = np.where(np.isinf(st.popsize), 0.0, n_h / st.popsize)
    w = design.weights
    if type == "auto":
        type = "JK1" if st.n_strata == 1 else "JKn"
    g_count = st.n_units
    if type == "JK1":
        mult = np.full((g_count, g_count), g_count / (g_count - 1))
        np.fill_diagonal(mult, 0.0)
        rep = mult[unit]
        scale = (g_count - 1) / g_count * (1 - f_h[0] if st.n_strata == 1 else 1.0)
        return ReplicateDesign(
            design.data, repweights=rep * w[:, None], weights=w, type="JK1", scale=scale, mse=mse
        )
    if type == "JKn":
        # replicate r deletes unit r
        same = ustr[:, None] == ustr[None, :]  # (unit, replicate)
        nh_r = n_h[ustr]
        mult = np.where(same, (nh_r / (nh_r - 1))[None, :], 1.0)
        np.fill_diagonal(mult, 0.0)
        rep = mult[unit]
        rscales = (nh_r - 1) / nh_r * (1 - f_h[ustr])
        return ReplicateDesign(
            design.data,
            repweights=rep * w[:, None],
            weights=w,
            type="JKn",
            scale=1.0,
            rscales=rscales,
            mse=mse,
        )
    if type == "bootstrap":
        rng = np.random.default_rng(seed)
        counts = np.zeros((g_count, replicates))
        unit_key = np.arange(g_count, dtype=float)
        if order is not None:
            unit_key = np.full(g_count, np.inf)
            np.minimum.at(unit_key, unit, np.asarray(order, dtype=float))
        draw_order = np.lexsort((unit_key, ustr))
        starts = np.concatenate([[0], np.cumsum(n_h[:-1])]).astype(np.int64)
        for r in range(replicates):
            # draw n_h - 1 positions within each stratum (vectorised over strata)
            size = (n_h - 1).astype(np.int64)
            strat_of_draw = np.repeat(np.arange(st.n_strata), size)
            pos = (rng.random(len(strat_of_draw)) * n_h[strat_of_draw]).astype(np.int64)
            picked = draw_order[starts[strat_of_draw] + pos]
            counts[:, r] = np.bincount(picked, minlength=g_count)
        mult = counts * (n_h / (n_h - 1))[ustr][:, None]
        rep = mult[unit]
        return ReplicateDesign(
            design.data,
            repweights=rep * w[:, None],
            weights=w,
            type="bootstrap",
            scale=1 / (replicates - 1),
            mse=mse,
        )
    if type in ("BRR", "Fay"):
        if not (n_h == 2).all():
            bad = int(np.flatnonzero(n_h != 2)[0])
            raise EstimationError(
                f"{type} needs exactly two PSUs per stratum; stratum "
                f"{st.stratum_labels[bad]!r} has {int(n_h[bad])}"
            )
        h = _hadamard(st.n_strata)[:, 1 : st.n_strata + 1]  # (R, H), skip the all-ones column
        r_count = h.shape[0]
        # first / second PSU of each stratum
        order = np.lexsort((np.arange(g_count), ustr))
        first = np.zeros(g_count, dtype=bool)
        first[order[::2]] = True
        r_ = rho if type == "Fay" else 0.0
        sign = np.where(first[:, None], h[:, ustr].T, -h[:, ustr].T)  # (units, R)
        mult = np.where(sign > 0, 2 - r_, r_)
        rep = mult[unit]
        return ReplicateDesign(
            design.data,
            repweights=rep * w[:, None],
            weights=w,
            type="Fay" if type == "Fay" else "BRR",
            scale=1 / (r_count * (1 - r_) ** 2),
            rho=r_,
            mse=mse,
        )
    raise EstimationError(f"unknown replicate type {type!r}")
