"""A primal-dual interior-point method for the discretised AQP in Arb ball arithmetic (claim C6).

Where double precision cannot resolve the AQP (Clarabel reports "inaccurate" or fails once the
optimal entries grow; see :mod:`.convex`), the same finite QP

    minimise (1/2) g^T Q g   subject to   l_i <= a_i·g <= u_i   (i = 1..m)

(Q = 2H / V_scale, rows a_i = x_i b(x_i) / tau, bounds f(x_i)/tau -/+ 1) is solved by Mehrotra's
predictor-corrector interior-point method with every quantity in Arb at ``prec`` bits (mid-points:
the result is certified afterwards, not trusted). The Newton systems are reduced to the normal
equations (Q + A^T D A) dg = rhs, D = z_u/s_u + z_l/s_l, formed with Arb matrix products (C speed)
and solved at the working precision, so their ill-conditioning near the optimum (D spans many orders
of magnitude, and the Bernstein rows are themselves ill-conditioned) costs bits, not correctness.

An interior-point method has no combinatorial active-set decisions, so it is indifferent to the
degenerate structures (shallow bumps hugging the budget, multipliers near zero) that trouble
active-set methods; the price is some 30-60 iterations per solve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from flint import arb, arb_mat, ctx

__all__ = ["IPMResult", "ipm_solve", "IPMError"]


class IPMError(RuntimeError, ValueError):
    """The interior-point iteration did not converge. ``g``: its last iterate (Arb mid-points) or None, from
    which the caller can re-estimate the objective scale."""

    def __init__(self, message: str, g: list | None = None):
        super().__init__(message)
        self.g = g


#: iterations after which a solve that is still far from converged is taken as mis-scaled and given up
STALL_ITER, STALL_ERR = 40, 1e-4
#: complementarity (scaled units, which start near 1) beyond which the dual variables diverge: a mis-scaled objective
MU_DIVERGED = 1e6
#: consecutive iterations of growing complementarity (after the first 8) that mark a mis-scaled objective (the
#: multipliers must grow by orders of magnitude and the iteration crawls; a well-scaled solve takes ~20 in all)
RISING_ITER = 4


@dataclass
class IPMResult:
    g: list            # Arb mid-points (unscaled table)
    nu: list           # signed multipliers per point, objective units: 2Hg + sum nu_i x_i b(x_i) = 0
    iterations: int
    gap: float         # final complementarity mu (scaled units)
    residual: float    # final relative primal/dual residual


def _dot_rows(A: arb_mat, v: list) -> list:
    m, K = A.nrows(), A.ncols()
    r = A * arb_mat(K, 1, v)
    return [r[i, 0] for i in range(m)]


#: relative accuracy (in the Jacobi-scaled norm) at which iterative refinement of a normal-equation solve stops
REFINE_TOL, REFINE_STEPS = 1e-40, 8


def _scaled_factor(Mf: np.ndarray):
    """Float64 LU factors of the Jacobi-scaled normal matrix D^-1/2 M D^-1/2 (D = diag M; ``Mf``: M in float64),
    or None. In the Chebyshev basis the objective's range (~1e39 at K = 64) is almost all on the diagonal (scaled,
    its condition number is ~1e2), so the scaled factors make a good preconditioner for refinement in Arb."""
    from scipy.linalg import lu_factor
    d = np.sqrt(np.abs(np.diag(Mf)))
    if not np.all(np.isfinite(Mf)) or not np.all(d > 0) or not np.all(np.isfinite(d)):
        return None
    Ms = Mf / d[:, None] / d[None, :]
    with np.errstate(all="ignore"):
        lu = lu_factor(Ms, check_finite=False)
    if not np.all(np.isfinite(lu[0])):
        return None
    return lu, d


def _solve_normal(M: arb_mat, rhs: arb_mat, fac) -> tuple[list, bool]:
    """M x = rhs at the working precision: float64 solves of the scaled system refined with residuals in Arb
    (O(K^2) per step), falling back to Arb's O(K^3) solve when the refinement stalls. Returns (x, refined)."""
    from scipy.linalg import lu_solve
    K = M.nrows()
    if fac is not None:
        lu, d = fac
        bs = np.array([abs(float(rhs[i, 0].mid())) for i in range(K)]) / d
        bnorm = float(bs.max()) or 1.0
        x = arb_mat(K, 1)
        r = rhs
        prev = math.inf
        for _ in range(REFINE_STEPS):
            rs = np.array([float(r[i, 0].mid()) for i in range(K)]) / d
            rn = float(np.abs(rs).max()) / bnorm
            if rn <= REFINE_TOL:
                return [arb(x[i, 0].mid()) for i in range(K)], True
            if not rn < 0.5 * prev:
                break
            prev = rn
            dx = lu_solve(lu, rs, check_finite=False) / d
            if not np.all(np.isfinite(dx)):
                break
            x = x + arb_mat(K, 1, dx.tolist())
            r = rhs - M * x
    try:
        sol = M.solve(rhs, algorithm="approx")
    except ZeroDivisionError as exc:
        raise IPMError("singular normal equations") from exc
    return [sol[c, 0] for c in range(K)], False


def ipm_solve(Q: arb_mat, A: arb_mat, lo: list, hi: list, *, g0: list | None = None, prec: int,
              tol: float = 1e-10, max_iter: int = 120) -> tuple[list, list, list, int, float]:
    """Mehrotra predictor-corrector for min 1/2 g^T Q g s.t. lo <= A g <= hi (all Arb, scaled units).

    Returns (g, z_u, z_l, iterations, mu) with mid-point Arb values."""
    m, K = A.nrows(), A.ncols()
    At = A.transpose()
    Qf = np.array([[float(x.mid()) for x in r] for r in Q.tolist()])
    Arows = A.tolist()
    An = np.array([[float(x.mid()) for x in r] for r in Arows])
    with ctx.workprec(prec):
        g, su, sl, zu, zl = _starting_point(A, lo, hi, g0, K, m)
        scale_b = max(1.0, max(abs(float(h.mid())) for h in hi))
        best = (math.inf, None, None, None, 0, math.inf)
        rising, prev_mu = 0, math.inf
        refine_state = [True]
        for it in range(1, max_iter + 1):
            Qg, rd, ru, rl, mu = _residuals(Q, A, At, lo, hi, g, su, sl, zu, zl)
            mu_f = float(mu.mid())
            res = max(max(abs(float(v.mid())) for v in ru), max(abs(float(v.mid())) for v in rl)) / scale_b
            dres = max(abs(float(v.mid())) for v in rd) / max(1.0, max(abs(float(v.mid())) for v in Qg.entries()))
            err = max(mu_f, res, dres)
            if err < best[0]:
                best = (err, [arb(x.mid()) for x in g], zu, zl, it, mu_f)
            if err <= tol:
                return best[1:]
            rising = rising + 1 if mu_f > prev_mu else 0
            prev_mu = mu_f
            if (it >= 8 and rising >= RISING_ITER) or mu_f > MU_DIVERGED or (it == STALL_ITER and best[0] > STALL_ERR):
                # an objective scale far from the optimum's: the caller rescales from this iterate and restarts
                raise IPMError(f"objective scale far off after {it} iterations (mu {mu_f:.3g}, primal residual "
                               f"{res:.3g}, dual residual {dres:.3g})", g=[arb(x.mid()) for x in g])
            if err > 1e3 * best[0] and best[0] <= 1e-7:
                # near the optimum the normal equations lose the working precision: keep the best iterate
                return best[1:]
            M, fac = _normal_matrix(Q, Qf, An, Arows, su, sl, zu, zl, refine_state[0])
            nw = _NewtonSystem(A, At, M, fac, refine_state, rd, ru, rl, su, sl, zu, zl)
            dg, dsu, dsl, dzu, dzl = nw.mehrotra_direction(mu, mu_f)
            # one step length for primal and dual: g enters the dual residual through Q g (a QP)
            a = min(1.0, 0.99 * min(_max_step(su, dsu), _max_step(sl, dsl), _max_step(zu, dzu), _max_step(zl, dzl)))
            a_p = a_d = arb(a)
            g = [arb((x + a_p * d).mid()) for x, d in zip(g, dg)]
            su = [arb((x + a_p * d).mid()) for x, d in zip(su, dsu)]
            sl = [arb((x + a_p * d).mid()) for x, d in zip(sl, dsl)]
            zu = [arb((x + a_d * d).mid()) for x, d in zip(zu, dzu)]
            zl = [arb((x + a_d * d).mid()) for x, d in zip(zl, dzl)]
        if best[0] <= 1e-7:
            return best[1:]
        raise IPMError(f"no convergence in {max_iter} interior-point iterations (mu {mu_f:.3g}, primal residual "
                       f"{res:.3g}, dual residual {dres:.3g})", g=[arb(x.mid()) for x in g])


def _starting_point(A: arb_mat, lo: list, hi: list, g0: list | None, K: int, m: int) -> tuple:
    """``(g, s_u, s_l, z_u, z_l)``: ``g0`` (default 0), slacks at least 1, unit duals."""
    g = list(g0) if g0 is not None else [arb(0)] * K
    Ag = _dot_rows(A, g)
    one = arb(1)
    su = [max(float((h - a).mid()), 1.0) for h, a in zip(hi, Ag)]
    sl = [max(float((a - l).mid()), 1.0) for l, a in zip(lo, Ag)]
    su = [arb(v) for v in su]
    sl = [arb(v) for v in sl]
    zu = [one] * m
    zl = [one] * m
    return g, su, sl, zu, zl


def _residuals(Q, A, At, lo, hi, g, su, sl, zu, zl) -> tuple:
    """``(Q g, dual residual, upper and lower primal residuals, complementarity mu)`` at an iterate."""
    m, K = A.nrows(), A.ncols()
    Ag = _dot_rows(A, g)
    Qg = Q * arb_mat(K, 1, g)
    dz = [a - b for a, b in zip(zu, zl)]
    Atdz = At * arb_mat(m, 1, dz)
    rd = [Qg[c, 0] + Atdz[c, 0] for c in range(K)]
    ru = [a + s - h for a, s, h in zip(Ag, su, hi)]
    rl = [-a + s + l for a, s, l in zip(Ag, sl, lo)]
    mu = (sum((a * b for a, b in zip(su, zu)), arb(0)) + sum((a * b for a, b in zip(sl, zl)), arb(0))) / (2 * m)
    return Qg, rd, ru, rl, mu


def _normal_matrix(Q, Qf: np.ndarray, An: np.ndarray, Arows: list, su, sl, zu, zl, refine: bool) -> tuple:
    """The normal matrix M = Q + A^T D A, D = z_u/s_u + z_l/s_l, and the float64 factors that precondition its
    refined solves (None: Arb solves), ``(M, factors)``."""
    m = len(Arows)
    D = [a / b + c / d for a, b, c, d in zip(zu, su, zl, sl)]
    # rows whose weight is negligible (far inactive constraints) leave the normal matrix: an inexact
    # Newton direction, relative error ~1e-14, and products over ~K rows instead of m near the optimum
    dmax = max(float(v.mid()) for v in D)
    rows = [i for i in range(m) if float(D[i].mid()) >= 1e-30 * dmax]
    Dn = np.array([float(D[i].mid()) for i in rows])
    if np.all(np.isfinite(Dn)) and np.isfinite(dmax * float(np.abs(An).max()) ** 2 * len(rows)):
        # A^T D A in float64: A's rows are O(1) Chebyshev rows and D > 0, so every entry is a sum of
        # same-scale products with relative error ~1e-16 (an inexact Newton direction, like the rows left
        # out above); Q, whose range needs the working precision, is added in Arb. 3x faster at K = 64 with
        # the same iterates
        Anr = An[rows]
        ADA = Anr.T @ (Dn[:, None] * Anr)
        M = Q + arb_mat(ADA.tolist())
        fac = _scaled_factor(Qf + ADA) if refine else None
    else:
        Ar = arb_mat([Arows[i] for i in rows])
        DA = arb_mat([[D[i] * a for a in Arows[i]] for i in rows])
        M = Q + Ar.transpose() * DA
        fac = None
    return M, fac


def _max_step(v, dv) -> float:
    """The largest a <= 1 with v + a dv >= 0 (mid-points)."""
    a = 1.0
    for x, d in zip(v, dv):
        df = float(d.mid())
        if df < 0:
            a = min(a, -float(x.mid()) / df)
    return a


class _NewtonSystem:
    """The Newton system of one interior-point iteration (normal matrix ``M`` and its ``fac``tors, residuals,
    iterate): the predictor and corrector directions of Mehrotra's method. A refinement that fails clears
    ``refine_state[0]``: the iterates only get more ill-conditioned, so Arb solves from there on."""

    def __init__(self, A, At, M, fac, refine_state, rd, ru, rl, su, sl, zu, zl):
        self.A, self.At, self.M, self.fac, self.refine_state = A, At, M, fac, refine_state
        self.rd, self.ru, self.rl, self.su, self.sl, self.zu, self.zl = rd, ru, rl, su, sl, zu, zl

    def direction(self, rcu, rcl) -> tuple:
        """``(dg, ds_u, ds_l, dz_u, dz_l)`` for the complementarity right-hand sides ``rcu``, ``rcl``."""
        A, zu, zl, su, sl, ru, rl = self.A, self.zu, self.zl, self.su, self.sl, self.ru, self.rl
        m, K = A.nrows(), A.ncols()
        w = [(rc + z * r) / s - (rc2 + z2 * r2) / s2
             for rc, z, r, s, rc2, z2, r2, s2 in zip(rcu, zu, ru, su, rcl, zl, rl, sl)]
        Atw = self.At * arb_mat(m, 1, w)
        rhs = arb_mat(K, 1, [-self.rd[c] - Atw[c, 0] for c in range(K)])
        dg, ok = _solve_normal(self.M, rhs, self.fac)
        if self.fac is not None and not ok:
            self.refine_state[0] = False   # the iterates only get more ill-conditioned: Arb solves from here
        Adg = _dot_rows(A, dg)
        dsu = [-r - a for r, a in zip(ru, Adg)]
        dsl = [-r + a for r, a in zip(rl, Adg)]
        dzu = [(rc - z * d) / s for rc, z, d, s in zip(rcu, zu, dsu, su)]
        dzl = [(rc - z * d) / s for rc, z, d, s in zip(rcl, zl, dsl, sl)]
        return dg, dsu, dsl, dzu, dzl

    def mehrotra_direction(self, mu, mu_f: float) -> tuple:
        """The predictor (affine scaling) step, its centring parameter sigma = (mu_aff / mu)^3, and the
        corrector's direction ``(dg, ds_u, ds_l, dz_u, dz_l)``."""
        su, sl, zu, zl = self.su, self.sl, self.zu, self.zl
        m = self.A.nrows()
        # predictor (affine scaling)
        rcu = [-(s * z) for s, z in zip(su, zu)]
        rcl = [-(s * z) for s, z in zip(sl, zl)]
        dg, dsu, dsl, dzu, dzl = self.direction(rcu, rcl)
        ap = ad = min(_max_step(su, dsu), _max_step(sl, dsl), _max_step(zu, dzu), _max_step(zl, dzl), 1.0)
        mu_aff = (sum(((s + ap * ds) * (z + ad * dz_) for s, ds, z, dz_ in zip(su, dsu, zu, dzu)), arb(0))
                  + sum(((s + ap * ds) * (z + ad * dz_) for s, ds, z, dz_ in zip(sl, dsl, zl, dzl)), arb(0))) / (2 * m)
        sigma = min(1.0, max(0.0, (float(mu_aff.mid()) / mu_f) ** 3)) if mu_f > 0 else 0.0
        sm = arb(sigma) * mu
        # corrector
        rcu = [sm - s * z - ds * dz_ for s, z, ds, dz_ in zip(su, zu, dsu, dzu)]
        rcl = [sm - s * z - ds * dz_ for s, z, ds, dz_ in zip(sl, zl, dsl, dzl)]
        return self.direction(rcu, rcl)
