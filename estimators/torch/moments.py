"""Exact moments of a table in torch, on any device (claim C8).

The same finite sums as :mod:`estimators.moments` (docs/theory.md, section 2), vectorised over a grid
of probabilities p on the device:

    log b_{n,c}(p) = lgamma(n+1) - lgamma(c+1) - lgamma(n-c+1) + c log p + (n-c) log1p(-p)
    B_g(p) = sum_c g(c) b_{n,c}(p),   V_g(p) = sum_c (g(c) - B_g(p))^2 b_{n,c}(p)

computed in the requested dtype (float64 by default, float32 for fast sweeps). They agree
with the float64/mpmath reference engines within :data:`MOMENT_TOL` (see :func:`moment_error`).
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import check_positive_int, check_probabilities
from ..moments import BLOCK_CELLS, Moments
from ..table import Table
from .tensors import check_device, same_device, table_values

__all__ = ["moments", "binomial_pmf", "target", "weighted_target", "MOMENT_TOL", "moment_error", "as_numpy"]

#: documented agreement with the float64 reference engine for K <= 1024 (measured by claim C8):
#: |torch - reference| <= MOMENT_TOL[dtype] * (max(1, max|g|) + |reference|)
#: for mean, var, weighted bias and weighted variance (the rounding error of a K-term sum
#: scales with the table entries; lgamma's error with log C(n, c) grows slowly with K).
MOMENT_TOL = {torch.float64: 1e-12, torch.float32: 2e-4}


def moment_error(got, ref, table: Table) -> float:
    """max |got - ref| / (max(1, max|g|) + |ref|) over the finite reference entries."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    ok = np.isfinite(ref)
    if not ok.any():
        return 0.0
    scale = max(1.0, float(np.max(np.abs(table.values))))
    return float(np.max(np.abs(got[ok] - ref[ok]) / (scale + np.abs(ref[ok]))))


def _check_dtype(dtype):
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def binomial_pmf(n: int, p: torch.Tensor) -> torch.Tensor:
    """Binomial(n, p) pmf, rows = p, columns c = 0..n, in p's dtype and device (log space)."""
    n = check_positive_int(n, name="n", minimum=1)
    c = torch.arange(n + 1, dtype=p.dtype, device=p.device)
    nn = torch.tensor(float(n), dtype=p.dtype, device=p.device)
    logc = torch.lgamma(nn + 1) - torch.lgamma(c + 1) - torch.lgamma(nn - c + 1)
    pc = p.unsqueeze(1)
    logpmf = logc.unsqueeze(0) + torch.xlogy(c.unsqueeze(0), pc) + torch.special.xlog1py(n - c.unsqueeze(0), -pc)
    return torch.exp(logpmf)


def target(generator, p: torch.Tensor) -> torch.Tensor:
    """The generator's target (what a table estimates) evaluated in torch (the family's torch hook)."""
    return generator.torch_target(p)


def weighted_target(generator, p: torch.Tensor) -> torch.Tensor:
    """``p * target(p)`` with its limit 0 at p = 0 (the family's torch hook)."""
    return generator.torch_weighted_target(p)


def moments(table: Table, p, *, device=None, dtype: torch.dtype = torch.float64, chunk: int = 4096) -> Moments:
    """Exact moments of ``table`` at probabilities ``p``, computed in torch on ``device``.

    Parameters
    ----------
    table : Table
    p : float, array-like or tensor of probabilities in [0, 1] (NaN or outside raise ValueError)
    device : torch device (default: p's device for a tensor, else CPU)
    dtype : torch.float64 (default) or torch.float32
    chunk : rows of the [P, K] pmf matrix evaluated at once (at most; reduced so a block has <= 2^20 cells)

    Returns
    -------
    :class:`estimators.Moments` with engine ``"torch-float64"`` / ``"torch-float32"`` whose fields
    are tensors on ``device`` (``as_numpy`` converts). ``mean_err`` is None.
    """
    if not isinstance(table, Table):
        raise TypeError(f"table must be an estimators.Table, got {type(table).__name__}")
    dtype = _check_dtype(dtype)
    chunk = check_positive_int(chunk, name="chunk")
    if device is not None:
        device = check_device(device)
    if isinstance(p, torch.Tensor):
        if p.device.type == "meta":
            raise ValueError("p is on the 'meta' device, which holds no data")
        if device is None:
            device = p.device
        elif not same_device(p.device, device):
            raise ValueError(f"p is on device {p.device} but device={device!r} was requested; move p first")
        if p.numel() == 0:
            raise ValueError("p must contain at least one probability in [0, 1]")
        bad = ~torch.isfinite(p) | (p < 0) | (p > 1)
        if bool(bad.any()):
            raise ValueError(f"p must lie in [0, 1] and not be NaN; got {float(p[bad].flatten()[0])!r}")
        pt = p.to(dtype)
    else:
        pt = torch.as_tensor(check_probabilities(p), device=device).to(dtype)
    shape = pt.shape
    flat = pt.reshape(-1)
    g, _ = table_values(table, device=flat.device)
    g = g.to(dtype)
    mean = torch.empty_like(flat)
    var = torch.empty_like(flat)
    chunk = max(1, min(chunk, BLOCK_CELLS // (table.n + 1)))  # bounds the [rows, K] temporaries (~8 MiB each)
    for s in range(0, flat.numel(), chunk):
        pmf = binomial_pmf(table.n, flat[s:s + chunk])
        m = pmf @ g
        mean[s:s + chunk] = m
        var[s:s + chunk] = (pmf * (g.unsqueeze(0) - m.unsqueeze(1)) ** 2).sum(dim=1)
    mean = mean.reshape(shape)
    var = var.reshape(shape)
    gen = table.generator
    bias = mean - target(gen, pt)
    wbias = pt * mean - weighted_target(gen, pt)
    return Moments(f"torch-{str(dtype).split('.')[-1]}", pt, mean, var, bias, wbias, pt * var, None)


def as_numpy(m: Moments) -> Moments:
    """A torch :class:`Moments` with every tensor field converted to a float64 numpy array."""
    def f(x):
        return x.detach().cpu().to(torch.float64).numpy() if isinstance(x, torch.Tensor) else x
    return Moments(m.engine, f(m.p), f(m.mean), f(m.var), f(m.bias), f(m.weighted_bias), f(m.weighted_var),
                   m.mean_err)
