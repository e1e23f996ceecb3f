"""The expected dynamics, exactly: expected advantages, the mean-field ODE and the expected update map.

For a policy with answer distribution p, the expected advantage of a sample with answer z is

    F(z; p) = E[A_i | z_i = z],

an exact finite sum over the compositions of the other K - 1 samples (multinomial weights), computed
here by enumeration for every advantage of :mod:`.advantages`; for ``decoupled`` and ``rloo``
it has the closed form r(z) - beta * u(p(z)) + const (:func:`closed_form_advantage`), which the
tests check against the enumeration.

Updates on the trace logits theta (softmax policy pi over traces, a(y) the answer of trace y):

``pg``  policy gradient: theta_y += eta * (1/(BK)) sum_i A_i (1[y_i = y] - pi(y)); in expectation
        eta * pi(y) * (F(a(y)) - Fbar), Fbar = sum_z p(z) F(z). With several traces per answer the
        traces of one answer move at rates proportional to their own pi(y): the answer-level
        fixed points are the same as with one trace per answer, but the split of an answer's mass
        over its traces is not fixed by the game (any split is stationary) and the one reached
        depends on the path (rich-get-richer: d/dt log(pi(y)/pi(y')) = (pi(y) - pi(y'))(F - Fbar)).
``md``  mirror descent (exponentiated gradient): theta_y += eta * (1/(BK)) sum_i A_i 1[y_i = y] / pi(y);
        in expectation eta * F(a(y)), so p(z) <- p(z) exp(eta F(z)) / Z: the trace structure
        drops out entirely.

Both ascend the potential Psi of :mod:`.equilibria` in expectation.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from scipy import integrate, optimize, special

from estimators import Table

from .advantages import GroupSums, advantage, check_advantage
from .equilibria import Marginal, total_variation
from .spec import GameSpec

__all__ = ["UPDATES", "compositions", "EnumeratedAdvantage", "enumerated_advantage", "closed_form_advantage", "expected_field",
           "expected_iteration", "integrate_from_uniform", "grpo_fixed_point", "max_compositions"]

UPDATES = {"pg": "policy gradient on the trace logits", "md": "mirror descent (exponentiated gradient)"}

#: Enumeration is refused beyond this many compositions of the K - 1 other samples.
MAX_COMPOSITIONS = 2_000_000


def check_update(update) -> str:
    if update not in UPDATES:
        raise ValueError(f"update must be one of {sorted(UPDATES)}, got {update!r}")
    return update


def max_compositions(K: int, m: int) -> int:
    """Number of compositions of K - 1 samples over m answers: C(K - 1 + m - 1, m - 1)."""
    return int(special.comb(K - 1 + m - 1, m - 1, exact=True))


@lru_cache(maxsize=16)
def compositions(n: int, m: int) -> np.ndarray:
    """All count vectors (c_1..c_m) >= 0 with sum n, shape [C(n+m-1, m-1), m] (stars and bars)."""
    if max_compositions(n + 1, m) > MAX_COMPOSITIONS:
        raise ValueError(f"{max_compositions(n + 1, m)} compositions of {n} samples over {m} answers: more than "
                         f"{MAX_COMPOSITIONS}; use a smaller K for exact enumeration")
    bars = np.array(list(itertools.combinations(range(n + m - 1), m - 1)), dtype=np.int64).reshape(-1, m - 1)
    edges = np.concatenate([np.full((bars.shape[0], 1), -1), bars, np.full((bars.shape[0], 1), n + m - 1)], axis=1)
    out = np.diff(edges, axis=1) - 1
    out.setflags(write=False)
    return out


class EnumeratedAdvantage:
    """F(z; p) for every answer z, exactly: a sum over all compositions of the K - 1 other samples.

    The advantage of a sample given the composition of its group does not depend on p, so it is
    tabulated once (``A`` [m, compositions]); F(p) = A @ multinomial weights(p).
    """

    def __init__(self, game: GameSpec, table: Table, kind: str):
        check_advantage(kind)
        K, m = table.K, game.m
        comp = compositions(K - 1, m)
        self.comp = comp
        self.log_multinomial = special.gammaln(K) - special.gammaln(comp + 1).sum(axis=1)
        g = table.values
        r, beta = game.r, game.beta
        N = comp[None, :, :] + np.eye(m, dtype=np.int64)[:, None, :]   # [z, ncomp, w]: full group counts
        present = N > 0
        gC = np.where(present, g[np.maximum(N - 1, 0)], 0.0)
        Rw = r[None, None, :] - beta * gC                                # reward of a sample with answer w
        sum_R = (N * Rw).sum(-1)
        mean = sum_R / K
        sums = GroupSums(R=sum_R, r=(N * r).sum(-1), g=(N * gC).sum(-1),
                         css=(N * (Rw - mean[..., None]) ** 2 * present).sum(-1))
        zi = np.arange(m)[:, None]
        Ci = comp.T.copy()                                               # [z, ncomp]: others with answer z
        self.A = advantage(kind, R=r[zi] - beta * g[Ci], r_i=r[zi], g_i=g[Ci], g_minus_i=g[np.maximum(Ci - 1, 0)],
                           C_i=Ci, sums=sums, beta=beta, K=K)
        self.kind = kind

    def __call__(self, p) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        w = np.exp(self.log_multinomial + special.xlogy(self.comp, p[None, :]).sum(axis=1))
        return self.A @ w


def enumerated_advantage(game: GameSpec, table: Table, kind: str, p) -> np.ndarray:
    """F(z; p) for every answer z by exact enumeration (see :class:`EnumeratedAdvantage`)."""
    return EnumeratedAdvantage(game, table, kind)(p)


def closed_form_advantage(game: GameSpec, marg: Marginal, p) -> np.ndarray:
    """r(z) - beta * u(p(z)) (the expected advantage up to a constant, for the per-answer advantages)."""
    return game.r - game.beta * marg.evaluate(np.asarray(p, dtype=np.float64))


def expected_field(game: GameSpec, F, theta: np.ndarray, update: str) -> np.ndarray:
    """Expected logit update direction (per unit step size) at logits ``theta`` given F: p -> F(p)."""
    pi = special.softmax(theta)
    p = game.answer_probabilities(pi)
    f = F(p)
    fbar = float(p @ f)
    e = (f - fbar)[game.answer_of]
    return pi * e if update == "pg" else e


def expected_iteration(game: GameSpec, F, step_size, steps: int, update: str = "pg",
                       record: np.ndarray | None = None) -> np.ndarray:
    """Answer distributions of the exact expected update map from the initial logits, at steps ``record``
    (default 0..steps): the deterministic counterpart of the stochastic run. ``step_size``: a number,
    or one step size per step (a schedule, e.g. :func:`.dynamics.step_sizes`)."""
    check_update(update)
    etas = np.broadcast_to(np.asarray(step_size, dtype=np.float64), (steps,))
    theta = game.theta0.copy()
    rec = np.arange(steps + 1) if record is None else np.asarray(record)
    out = np.empty((rec.size, game.m))
    j = 0
    for t in range(steps + 1):
        while j < rec.size and rec[j] == t:
            out[j] = game.answer_probabilities(special.softmax(theta))
            j += 1
        if t < steps:
            theta = theta + etas[t] * expected_field(game, F, theta, update)
    return out


def integrate_from_uniform(game: GameSpec, F, update: str = "pg", *, tau_max: float = 1e6,
                           rtol: float = 1e-10, atol: float = 1e-10) -> dict:
    """Integrate the mean-field ODE d theta / d tau = E[update] / s from the game's initial logits (uniform
    unless the game sets them) to ``tau_max``, with s = max(1, beta): time is counted in units of the diversity
    term's rate, so that a huge beta does not make the equation stiff beyond the solver's reach (the path and
    its end point are those of the unscaled equation).

    Returns the final answer distribution and trace distribution; the solver's tolerances are
    stated, and the caller measures how close the end point is to a KKT point.
    """
    check_update(update)
    s = max(1.0, float(game.beta))

    def rhs(_t, th):
        return expected_field(game, F, th, update) / s

    sol = integrate.solve_ivp(rhs, (0.0, tau_max), game.theta0, method="LSODA", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"mean-field ODE failed: {sol.message}")
    pi = special.softmax(sol.y[:, -1])
    return {"p": game.answer_probabilities(pi), "pi": pi, "tau": float(sol.t[-1]), "nfev": int(sol.nfev),
            "rtol": rtol, "atol": atol, "time_unit": f"1/max(1, beta) = {1 / s:g}"}


def grpo_fixed_point(game: GameSpec, table: Table, *, tau_max: float = 1e4, support_tol: float = 1e-9,
                     tol: float = 1e-12) -> dict:
    """The fixed point that the expected dynamics with the GRPO advantage reach from uniform logits.

    F is enumerated exactly; the mirror-descent ODE (same answer-level fixed points as policy
    gradient, exponential rather than 1/t loss of support) is integrated to ``tau_max``, the answers
    above ``support_tol`` form the support, and F(z) = Fbar is polished there by a root solve
    (logit coordinates). ``residual``: max |F(z) - Fbar| on the support; ``boundary_gap``: max of
    F(z) - Fbar over the lost answers (<= 0: losing them is stable); ``pg_endpoint_tv``: TV between
    this point and where the policy-gradient ODE is at ``tau_max`` (a cross-check of which fixed
    point the stochastic policy-gradient runs approach). Not every fixed point is listed: F is not
    of the per-answer form r - beta u(p(z)), so the KKT enumeration of :mod:`.equilibria` does not apply.
    """
    F = EnumeratedAdvantage(game, table, "grpo")
    md = integrate_from_uniform(game, F, "md", tau_max=tau_max, rtol=1e-9, atol=1e-9)
    p0 = md["p"]
    sup = np.flatnonzero(p0 > support_tol)
    lost = np.setdiff1d(np.arange(game.m), sup)

    def probs(x):
        q = np.zeros(game.m)
        q[sup] = special.softmax(np.concatenate([[0.0], x]))
        return q

    if sup.size > 1:
        def resid(x):
            f = F(probs(x))
            return f[sup][1:] - f[sup][0]
        sol = optimize.root(resid, np.log(p0[sup][1:] / p0[sup][0]), method="hybr", tol=tol)
        p = probs(sol.x)
        converged = bool(sol.success)
    else:
        p, converged = probs(np.zeros(0)), True
    f = F(p)
    fbar = float(p @ f)
    pg = integrate_from_uniform(game, F, "pg", tau_max=tau_max, rtol=1e-9, atol=1e-9)
    return {"p": p, "residual": float(np.max(np.abs(f[sup] - fbar))), "converged": converged,
            "support_lost": lost.tolist(),
            "boundary_gap": float(np.max(f[lost] - fbar)) if lost.size else None,
            "pg_endpoint_tv": float(total_variation(pg["p"], p)), "tau_max": tau_max,
            "compositions": int(F.comp.shape[0])}
