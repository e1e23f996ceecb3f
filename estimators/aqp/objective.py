"""The AQP objective as an exact rational quadratic form (claim C6; the lead's C9 uses another form).

The AQP solver minimises x^T Q x over the m Bernstein coefficients x of a table under the bias
budget. Every stage -- the double-precision exchange, the Arb interior point and its polish, and the
certificates (the exact value bracket and the weak-duality lower bound) -- reads Q from one
:class:`QuadraticObjective`:

* ``N / D``: the exact matrix, N a symmetric integer matrix (tuple of rows), D > 0 one denominator;
* the solver and the lower bound need Q·1 = 0 and Q positive definite on the complement of the
  constants (the null space is exactly the constant vectors). Then the Lagrangian is bounded below
  once sum_i nu_i x_i = 0, and Q[1:,1:] is invertible (:mod:`.certify`). Both are checked on
  construction: N·1 = 0 exactly, and Q[1:,1:] positive definite by Sylvester's criterion, its
  pivots certainly positive in Arb ball arithmetic (a rigorous proof, not a float64 eigenvalue);
* ``ident``: a short name for humans, certificates and cache keys; :attr:`sha256` is the digest of
  the exact matrix, so two objectives with one name but different matrices never share a cache entry.

The default objective, :func:`integrated_variance`, is the weighted variance
V(g) = int_0^1 p V_g(p) dp = g^T H_K g of :mod:`.hessian` (positive definite on the complement of the
constants by theory, so its check is skipped). Example with another form (here 3 H_K)::

    from estimators.aqp.objective import QuadraticObjective, integrated_variance
    H = integrated_variance(16)
    Q = QuadraticObjective(N=tuple(tuple(3 * v for v in row) for row in H.N), D=H.D, ident="3H")
    solve("kl", 16, 1.0, quadratic=Q)        # the same table as with H, 3 times the value
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from math import gcd

import numpy as np
from flint import arb, arb_mat, ctx, fmpz_mat

__all__ = ["QuadraticObjective", "integrated_variance", "DEFAULT_IDENT", "check_objective_for"]

#: ``ident`` of the default objective (the integrated weighted variance of :mod:`.hessian`)
DEFAULT_IDENT = "integrated_variance"
#: sizes accepted (the solver itself takes m = K in [2, 128])
M_MIN, M_MAX = 2, 4096


@dataclass(frozen=True, eq=False)
class QuadraticObjective:
    """An exact PSD quadratic form Q = N / D on R^m whose null space is exactly the constants.

    Parameters
    ----------
    N : sequence of sequences of int   symmetric integer matrix (m x m, 2 <= m <= 128), rows summing to 0
    D : int                            positive common denominator
    ident : str                        short name (letters, digits, ``_-.:+``), written into certificates
    description : str                  what the form measures (one line, for certificates and docs)

    Raises TypeError / ValueError naming what is wrong (not integers, not symmetric, a row sum not 0,
    not positive definite on the complement of the constants).

    Equality and hashing go by :attr:`sha256` (the exact matrix and ``ident``).
    """

    N: tuple
    D: int
    ident: str
    description: str = ""
    _trusted: bool = field(default=False, repr=False)   # H_K only (checked): its definiteness is a theorem

    def __post_init__(self):
        N = _as_int_rows(self.N)
        object.__setattr__(self, "N", N)
        if isinstance(self.D, bool) or not isinstance(self.D, (int, np.integer)) or int(self.D) <= 0:
            raise ValueError(f"D must be a positive integer (the common denominator of Q = N / D), got {self.D!r}")
        object.__setattr__(self, "D", int(self.D))
        if not isinstance(self.ident, str) or not self.ident or len(self.ident) > 80 or \
                not all(c.isalnum() or c in "_-.:+" for c in self.ident):
            raise ValueError(f"ident must be a non-empty name of at most 80 letters, digits or _-.:+, got "
                             f"{self.ident!r}")
        if not isinstance(self.description, str):
            raise TypeError(f"description must be a string, got {type(self.description).__name__}")
        if self._trusted:
            from .hessian import hessian_integer
            if self.ident != DEFAULT_IDENT or (N, self.D) != hessian_integer(len(N)):
                raise ValueError("only the integrated weighted variance H_K is taken as definite without the check")
        else:
            _check_null_space_and_definite(N)

    # -- identity ----------------------------------------------------------------------------------
    @cached_property
    def sha256(self) -> str:
        """SHA-256 over ident, m, D and the entries of N (decimal, row-major)."""
        h = hashlib.sha256()
        h.update(f"{self.ident}|{self.m}|{self.D}|".encode())
        for row in self.N:
            h.update((",".join(map(str, row)) + ";").encode())
        return h.hexdigest()

    @property
    def m(self) -> int:
        return len(self.N)

    @property
    def is_default(self) -> bool:
        """True for the integrated weighted variance of its size (the default objective)."""
        return self.ident == DEFAULT_IDENT and self._trusted

    def identity(self) -> dict:
        """``{"ident", "sha256", "m", "description"}``: what a certificate or cache key records."""
        return {"ident": self.ident, "sha256": self.sha256, "m": self.m, "description": self.description}

    def __eq__(self, other):
        return isinstance(other, QuadraticObjective) and self.sha256 == other.sha256

    def __hash__(self):
        return hash(self.sha256)

    def __repr__(self):
        return f"QuadraticObjective(ident={self.ident!r}, m={self.m}, sha256={self.sha256[:12]}...)"

    # -- copies for the solvers ----------------------------------------------------------------------
    @cached_property
    def float64(self) -> np.ndarray:
        """Q rounded entrywise to float64 and symmetrised (read-only): the double-precision stage."""
        Q = np.array([[float(Fraction(x, self.D)) for x in row] for row in self.N], dtype=np.float64)
        Q = 0.5 * (Q + Q.T)
        Q.setflags(write=False)
        return Q

    @cached_property
    def _fmpz(self) -> fmpz_mat:
        return fmpz_mat([list(r) for r in self.N])

    def arb_matrix(self, prec: int) -> arb_mat:
        """Q as an Arb matrix at ``prec`` bits (balls containing N / D exactly)."""
        return _arb_full(self, int(prec))

    def arb_h11(self, prec: int) -> arb_mat:
        """Q[1:,1:] as an Arb matrix at ``prec`` bits (the block the dual bound and the solver invert)."""
        return _arb_h11(self, int(prec))

    def solve_h11(self, w, prec: int) -> list:
        """Rigorous enclosure (Arb balls) of z = Q[1:,1:]^-1 w for the Arb vector ``w`` (length m - 1).

        An approximate inverse R (mid-points) and a rigorous bound delta >= ||I - R Q[1:,1:]||_inf are computed
        once per precision; then with y = R w, z lies in y +- delta ||y||_inf / (1 - delta) entrywise (from
        (I - E) z = y, E = I - R Q[1:,1:]). O(m^2) per call instead of a fresh O(m^3) solve; the precision
        doubles (up to 4096 bits) until delta < 2^-20."""
        n = self.m - 1
        if len(w) != n:
            raise ValueError(f"w must have m - 1 = {n} entries, got {len(w)}")
        p = int(prec)
        while True:
            R, delta = _approx_inverse(self, p)
            if delta is not None:
                break
            if p >= 4096:
                raise ArithmeticError(f"Q[1:,1:] of {self.ident!r} cannot be inverted rigorously at 4096 bits")
            p *= 2
        with ctx.workprec(max(p, int(prec))):
            y = R * arb_mat(n, 1, list(w))
            ymax = arb(0)
            for i in range(n):
                a = abs(y[i, 0]).upper()
                if a > ymax:
                    ymax = a
            rad = (delta * ymax / (1 - delta)).upper()
            return [y[i, 0] + arb(0, rad) for i in range(n)]

    # -- values ---------------------------------------------------------------------------------------
    def value_exact(self, values) -> Fraction:
        """x^T Q x exactly: float64 entries at their binary value; Fractions, ints or decimal strings exactly."""
        vals = list(values)
        if len(vals) != self.m:
            raise ValueError(f"the objective {self.ident!r} is a form on {self.m} entries, got {len(vals)}")
        if all(isinstance(v, (float, np.floating)) for v in vals):
            fr = [Fraction(float(v)) for v in vals]
        else:
            fr = [Fraction(v) for v in vals]
        den = 1
        for x in fr:
            den = den * x.denominator // gcd(den, x.denominator)
        G = fmpz_mat(self.m, 1, [int(x * den) for x in fr])
        num = int((G.transpose() * self._fmpz * G)[0, 0])
        return Fraction(num, self.D * den * den)

    def value_float64(self, values) -> float:
        """x^T Q x in float64 (fast, not certified: scales and warm starts only)."""
        g = np.asarray(values, dtype=np.float64)
        return float(g @ self.float64 @ g)


def _as_int_rows(N) -> tuple:
    try:
        rows = [list(r) for r in N]
    except TypeError as exc:
        raise TypeError(f"N must be a square matrix of integers (a sequence of rows), got {type(N).__name__}") from exc
    m = len(rows)
    if not M_MIN <= m <= M_MAX:
        raise ValueError(f"N must be m x m with m in [{M_MIN}, {M_MAX}] (the table length), got {m} rows")
    out = []
    for i, r in enumerate(rows):
        if len(r) != m:
            raise ValueError(f"N must be square: row {i} has {len(r)} entries, expected {m}")
        for v in r:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"N must hold integers (Q = N / D exactly), row {i} holds {v!r}")
        out.append(tuple(int(v) for v in r))
    for i in range(m):
        if sum(out[i]) != 0:
            raise ValueError(f"Q·1 must be 0 (a constant table has value 0): row {i} of N sums to {sum(out[i])}")
        for j in range(i):
            if out[i][j] != out[j][i]:
                raise ValueError(f"N must be symmetric: N[{i}][{j}] = {out[i][j]} != N[{j}][{i}] = {out[j][i]}")
    return tuple(out)


@lru_cache(maxsize=64)
def _definite_memo(key: str, N: tuple) -> bool:
    return _pivots_positive(N)


def _check_null_space_and_definite(N: tuple) -> None:
    h = hashlib.sha256(repr(N).encode()).hexdigest()
    if not _definite_memo(h, N):
        raise ValueError("Q[1:,1:] is not certainly positive definite (Sylvester's pivots in Arb up to 4096 bits): "
                         "the solver and its lower bound need Q positive semidefinite with null space exactly "
                         "the constant vectors")


def _pivots_positive(N: tuple) -> bool:
    """Whether every pivot of Gaussian elimination on N[1:,1:] is certainly > 0 in Arb (Sylvester's
    criterion: the pivots are ratios of leading principal minors, so all positive <=> positive definite).
    The ball arithmetic encloses the exact pivots; the precision doubles when a ball straddles 0."""
    n = len(N) - 1
    prec = 128
    while prec <= 4096:
        with ctx.workprec(prec):
            S = arb_mat([[arb(N[i][j]) for j in range(1, n + 1)] for i in range(1, n + 1)])
            ok = True
            for k in range(n):
                p = S[k, k]
                if not p > 0:
                    ok = False
                    break
                v = arb_mat(n, 1, [S[i, k] for i in range(n)])
                S = S - (v * v.transpose()) * (1 / p)
            if ok:
                return True
            if p < 0:            # certainly negative: not definite at any precision
                return False
        prec *= 2
    return False


@lru_cache(maxsize=32)
def _arb_full(Q: QuadraticObjective, prec: int) -> arb_mat:
    with ctx.workprec(prec):
        Da = arb(Q.D)
        return arb_mat([[arb(x) / Da for x in row] for row in Q.N])


@lru_cache(maxsize=32)
def _arb_h11(Q: QuadraticObjective, prec: int) -> arb_mat:
    with ctx.workprec(prec):
        Da = arb(Q.D)
        return arb_mat([[arb(x) / Da for x in row[1:]] for row in Q.N[1:]])


@lru_cache(maxsize=32)
def _approx_inverse(Q: QuadraticObjective, prec: int):
    """(R, delta): R ~ Q[1:,1:]^-1 (exact mid-points) and delta >= ||I - R Q[1:,1:]||_inf (an Arb upper
    bound), or (None, None) when delta is not certainly below 2^-20 at this precision."""
    n = Q.m - 1
    with ctx.workprec(prec):
        H = _arb_h11(Q, prec)
        eye = arb_mat([[arb(1) if i == j else arb(0) for j in range(n)] for i in range(n)])
        try:
            Ra = H.solve(eye, algorithm="approx")
        except ZeroDivisionError:
            return None, None
        R = arb_mat([[arb(Ra[i, j].mid()) for j in range(n)] for i in range(n)])
        E = eye - R * H
        delta = arb(0)
        for i in range(n):
            row = arb(0)
            for j in range(n):
                row += abs(E[i, j]).upper()
            if row.upper() > delta:
                delta = row.upper()
        if not delta < arb(2) ** -20:
            return None, None
        return R, delta


@lru_cache(maxsize=130)
def integrated_variance(K: int) -> QuadraticObjective:
    """The default objective for tables of K entries: H_K of :mod:`.hessian` (V(g) = int_0^1 p V_g(p) dp)."""
    from .hessian import hessian_integer
    N, D = hessian_integer(int(K))
    return QuadraticObjective(N=N, D=D, ident=DEFAULT_IDENT, _trusted=True,
                              description="integrated weighted variance int_0^1 p V_g(p) dp of the reward g(C)")


def check_objective_for(quadratic, K: int) -> QuadraticObjective:
    """``quadratic`` (None: the default) as a QuadraticObjective on K entries, or TypeError / ValueError."""
    if quadratic is None:
        return integrated_variance(K)
    if not isinstance(quadratic, QuadraticObjective):
        raise TypeError(f"quadratic must be a QuadraticObjective (or None for the integrated weighted variance), got "
                        f"{type(quadratic).__name__}")
    if quadratic.m != K:
        raise ValueError(f"quadratic is a form on m = {quadratic.m} entries but K = {K}: they must match (the table "
                         f"has K Bernstein coefficients)")
    return quadratic
