"""Rate fits: log-log slopes with standard errors."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SlopeFit", "loglog_slope"]


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares fit log y = intercept + slope * log K over the K in ``K_range``."""

    slope: float
    slope_se: float
    intercept: float
    max_residual: float
    K_range: tuple
    n: int

    def to_json(self) -> dict:
        return {"slope": self.slope, "slope_se": self.slope_se, "intercept": self.intercept,
                "max_log_residual": self.max_residual, "K_range": list(self.K_range), "n_points": self.n}


def loglog_slope(K, y, *, K_min: float = 0) -> SlopeFit:
    """Fit the log-log slope of y against K over K >= K_min (y must be positive)."""
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if K.shape != y.shape:
        raise ValueError(f"K and y must have the same shape, got {K.shape} and {y.shape}")
    sel = K >= K_min
    if sel.sum() < 3:
        raise ValueError(f"need at least 3 points with K >= K_min={K_min} to fit a slope, got {int(sel.sum())}")
    if np.any(y[sel] <= 0):
        raise ValueError("y must be positive to fit a log-log slope")
    x, z = np.log(K[sel]), np.log(y[sel])
    A = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(A, z, rcond=None)
    resid = z - A @ coef
    dof = max(1, x.size - 2)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(A.T @ A)
    return SlopeFit(float(coef[1]), float(np.sqrt(cov[1, 1])), float(coef[0]), float(np.max(np.abs(resid))),
                    (float(K[sel].min()), float(K[sel].max())), int(sel.sum()))
