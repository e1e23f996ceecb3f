"""Predicted error at a horizon T for a table and a step-size schedule, without running the game (C7, ``alft recommend``).

A *linear-noise approximation* of the stochastic dynamics theta_{t+1} = theta_t + eta_t (f(theta_t) + xi_t):

* the **mean** follows the expected update map mu_{t+1} = mu_t + eta_t f(mu_t) exactly (f from the table's
  expected advantage, :mod:`.expected`; with the per-answer form r - beta u(p) for ``decoupled`` and ``rloo``);
* the **covariance** of theta follows P_{t+1} = (I + eta_t J_t) P_t (I + eta_t J_t)^T + eta_t^2 Sigma_t / B,
  with J_t the Jacobian of f at mu_t (analytic) and Sigma_t the covariance of one group's update direction,
  measured by Monte Carlo (``n_groups`` groups) at anchor points along the mean-field path and taken from the
  anchor nearest mu_t;
* the **error** E TV(p_T, p*) with theta_T Gaussian around the mean (covariance P_T), pushed through the
  softmax by a fixed set of ``draws`` normal draws (so the answer distribution stays on the simplex even
  when the spread is large).

For ``grpo`` the expected advantage has no per-answer form; the model takes the rloo advantage times the mean
inverse group std at the nearest anchor (GRPO's normalisation as a state-dependent step size), so its fixed
point is the rloo one: an approximation that the validation measures. Everything here is a *prediction*;
:mod:`.recommend` says how well it picks tables against simulation on held-out games.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, special

from estimators import Table
from estimators.certified.bernstein import BernsteinFloat64

from .advantages import check_advantage, effective_table
from .engine import Batch, group_updates
from .expected import expected_field
from .spec import GameSpec, check_table_for_game

__all__ = ["Model", "build_model", "predict_errors"]


@dataclass
class Model:
    """What the prediction needs for several tables (same game, K, advantage, groups), stacked.

    ``H`` [tables, K]: Bernstein coefficients (degree K - 1) of the mean u = B_h each table's expected
    advantage r - beta u(p) uses; ``anchors_p`` [tables, A, m] and ``sigma`` [tables, A, T, T]: answer
    distributions along each table's mean-field path and the covariance of one group's update there;
    ``scale`` [tables, A]: the mean direction's factor (1 except for grpo).
    """

    game: GameSpec
    K: int
    groups: int
    advantage: str
    H: np.ndarray
    anchors_p: np.ndarray
    sigma: np.ndarray
    scale: np.ndarray

    def u_du(self, p: np.ndarray, tab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u(p) and u'(p) [n, m] for answer distributions p [n, m] of rows using tables ``tab`` [n]."""
        H = self.H[tab]                                                # [n, K]
        n = H.shape[1] - 1
        u = np.einsum("nmk,nk->nm", _basis(p, n), H)
        if n == 0:
            return u, np.zeros_like(u)
        du = np.einsum("nmk,nk->nm", _basis(p, n - 1), n * np.diff(H, axis=1))
        return u, du


def _basis(p: np.ndarray, n: int) -> np.ndarray:
    """Bernstein basis b_{n,c}(p) [..., n + 1] in log space (no overflow at any degree)."""
    c = np.arange(n + 1, dtype=np.float64)
    logc = special.gammaln(n + 1) - special.gammaln(c + 1) - special.gammaln(n - c + 1)
    q = np.clip(p, 0.0, 1.0)[..., None]
    return np.exp(logc + special.xlogy(c, q) + special.xlogy(n - c, 1.0 - q))


def _coefficients(table: Table, advantage: str) -> np.ndarray:
    return np.array([float(c) for c in effective_table(table, "rloo" if advantage == "grpo" else advantage)])


def _anchor_logits(game: GameSpec, H: np.ndarray, tau_max: float, n: int) -> np.ndarray:
    """Logits along one table's mean-field path from the game's start, at 0 and n log-spaced times."""
    u = BernsteinFloat64(H)

    def F(p):
        return game.r - game.beta * u(p)

    taus = np.concatenate([[0.0], np.geomspace(min(0.1, tau_max), tau_max, n)])
    s = max(1.0, float(game.beta))
    sol = integrate.solve_ivp(lambda _t, th: expected_field(game, F, th, "pg") / s, (0.0, tau_max / s),
                              game.theta0, method="LSODA", t_eval=taus / s, rtol=1e-6, atol=1e-8)
    y = sol.y.T
    return y if y.shape[0] == taus.size else np.vstack([y, np.repeat(y[-1:], taus.size - y.shape[0], axis=0)])


def _anchor_noise(game: GameSpec, table: Table, advantage: str, thetas, n_groups: int, seed: int):
    """Covariance of one group's update direction and the mean-direction factor at each anchor."""
    def batch(kind):
        return Batch(r=game.r, beta=game.beta, answer_of=game.answer_of, K=table.K, tables=table.values[None, :],
                     etas=np.ones((1, 1)), seeds=1, groups=1, advantage=kind, update="pg", record=np.zeros(1, int),
                     seed=seed)

    sig, scale, ps = [], [], []
    for i, th in enumerate(thetas):
        d = group_updates(batch(advantage), th, n_groups, np.random.default_rng([seed, i]))
        sig.append(np.cov(d, rowvar=False))
        ps.append(game.answer_probabilities(special.softmax(th)))
        if advantage == "grpo":
            # per group, GRPO's advantages are the rloo ones times (K - 1) / K / (std + eps): regress the groups'
            # GRPO updates on their rloo updates (same uniforms) for the effective step-size factor
            d_r = group_updates(batch("rloo"), th, n_groups, np.random.default_rng([seed, i]))
            den = float((d_r * d_r).sum())
            scale.append(float((d * d_r).sum()) / den if den > 0 else 1.0)
        else:
            scale.append(1.0)
    return np.array(sig), np.array(scale), np.array(ps)


def build_model(game: GameSpec, tables, advantage: str, *, groups: int, tau_max: float, n_anchors: int = 14,
                n_groups: int = 3000, seed: int = 0) -> Model:
    """Mean-field coefficients and Monte Carlo noise covariances at anchors for ``tables`` (same K)."""
    tables = list(tables)
    check_advantage(advantage)
    Ks = {t.K for t in tables}
    if len(Ks) != 1:
        raise ValueError(f"the tables of one model must share K, got {sorted(Ks)}")
    H, sig, sc, ps = [], [], [], []
    for table in tables:
        check_table_for_game(game, table)
        h = _coefficients(table, advantage)
        thetas = _anchor_logits(game, h, tau_max, n_anchors)
        s, c, p = _anchor_noise(game, table, advantage, thetas, n_groups, seed)
        H.append(h), sig.append(s), sc.append(c), ps.append(p)
    return Model(game, Ks.pop(), groups, advantage, np.array(H), np.array(ps), np.array(sig), np.array(sc))


def _field_and_jacobian(model: Model, theta: np.ndarray, tab: np.ndarray):
    """f(theta) [n, T], its Jacobian [n, T, T], p [n, m] and dp/dtheta [n, m, T] for n logit vectors, row i
    using table ``tab[i]`` (f = pi * (F(a(y)) - Fbar) with the per-answer F = r - beta u(p))."""
    game = model.game
    th = theta - theta.max(axis=1, keepdims=True)
    pi = np.exp(th)
    pi /= pi.sum(axis=1, keepdims=True)
    M = game.trace_to_answer_matrix                                    # [T, m]
    p = pi @ M
    u, du = model.u_du(p, tab)
    F, dF = game.r - game.beta * u, -game.beta * du                    # [n, m]
    Fbar = (p * F).sum(axis=1, keepdims=True)
    e = F @ M.T - Fbar                                                 # [n, T]
    f = pi * e
    Dpi = pi[:, :, None] * np.eye(game.T)[None] - pi[:, :, None] * pi[:, None, :]
    dp = np.einsum("ym,nyx->nmx", M, Dpi)                              # dp/dtheta [n, m, T]
    dFth = dF[:, :, None] * dp                                         # dF/dtheta [n, m, T]
    dFbar = np.einsum("nm,nmx->nx", F, dp) + np.einsum("nm,nmx->nx", p, dFth)
    J = e[:, :, None] * Dpi + pi[:, :, None] * (np.einsum("ym,nmx->nyx", M, dFth) - dFbar[:, None, :])
    return f, J, p, dp


def _expected_tv(model: Model, theta: np.ndarray, P: np.ndarray, p_star, z: np.ndarray) -> np.ndarray:
    """E TV(p, p*) for theta ~ N(theta [n, T], P [n, T, T]), by the fixed normal draws ``z`` [D, T]."""
    w, V = np.linalg.eigh(P)
    delta = np.einsum("nxk,nk,dk->ndx", V, np.sqrt(np.maximum(w, 0.0)), z)
    th = theta[:, None, :] + delta
    th -= th.max(axis=2, keepdims=True)
    pi = np.exp(th)
    pi /= pi.sum(axis=2, keepdims=True)
    p = pi @ model.game.trace_to_answer_matrix
    return 0.5 * np.abs(p - p_star).sum(axis=2).mean(axis=1)


def predict_errors(model: Model, etas: np.ndarray, tab, horizons, p_star, *, draws: int = 256,
                   seed: int = 0) -> np.ndarray:
    """Predicted E TV(p_T, p*) [rows, sorted horizons]: row i runs the schedule ``etas[i]`` (step sizes of steps
    1..steps) with table ``tab[i]`` of the model."""
    etas = np.atleast_2d(np.asarray(etas, dtype=np.float64))
    n, steps = etas.shape
    tab = np.broadcast_to(np.asarray(tab, dtype=np.int64), (n,))
    hs = sorted(int(h) for h in horizons)
    if hs[-1] > steps:
        raise ValueError(f"the schedules have {steps} steps but a horizon is {hs[-1]}")
    T = model.game.T
    theta = np.tile(model.game.theta0, (n, 1))
    P = np.zeros((n, T, T))
    out = np.empty((n, len(hs)))
    eye = np.eye(T)[None]
    ps = np.asarray(p_star)
    z = np.random.default_rng(seed).standard_normal((draws, T))
    j = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            f, J, p, dp = _field_and_jacobian(model, theta, tab)
            a = np.argmin(np.abs(p[:, None, :] - model.anchors_p[tab]).sum(axis=2), axis=1)
            while j < len(hs) and hs[j] == t:
                ok = np.isfinite(P).all(axis=(1, 2)) & np.isfinite(theta).all(axis=1)
                out[:, j] = 1.0
                if ok.any():
                    out[ok, j] = _expected_tv(model, theta[ok], P[ok], ps, z)
                j += 1
            if t == steps or j == len(hs):
                break
            eta = etas[:, t][:, None]
            s = model.scale[tab, a][:, None]
            A = eye + (eta * s)[:, :, None] * J
            P = A @ P @ np.swapaxes(A, 1, 2) + (eta[:, :, None] ** 2 / model.groups) * model.sigma[tab, a]
            theta = theta + eta * s * f
    return np.where(np.isfinite(out), out, 1.0)  # a schedule whose linearisation overflowed: the worst error
