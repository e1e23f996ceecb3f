"""Shared data for the claim C8 torch tests: devices, dtypes, tolerances, reference pairs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from estimators import METHODS, build_table  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64]

#: torch.testing's default tolerances per dtype (the kernels are tighter: a float32 reward is the
#: correctly rounded float64 reward, a float64 reward equals the reference bit for bit)
TOL = {torch.float32: dict(rtol=1.3e-6, atol=1e-5), torch.float64: dict(rtol=1e-7, atol=1e-7)}

#: (method, generator, generator params, method params): every registered method needs an entry
#: (test_every_registered_method_has_a_reference_pair fails otherwise). Entries of methods that
#: are not registered (yet) are skipped.
REFERENCE_PAIRS = [
    ("ustat", "euclidean", {}, {}),
    ("ustat", "power", {"alpha": 3}, {}),
    ("ustat", "polynomial", {"coeffs": [0, 1, "-1/2", "1/3"]}, {}),
    ("plugin", "kl", {}, {}),
    ("plugin", "power", {"alpha": 2.5}, {}),
    ("jackknife", "kl", {}, {}),
    ("jackknife", "euclidean", {}, {}),
    ("minimax", "kl", {}, {}),
    ("aqp", "kl", {}, {"eps": 10.0}),
]


def reference_pair_ids():
    return [f"{m}-{g}{gp.get('alpha', '')}" for m, g, gp, _ in REFERENCE_PAIRS]


def build_reference_table(method, generator, gparams, mparams, K):
    if method not in METHODS:
        pytest.skip(f"method {method!r} is not registered yet")
    try:
        return build_table(generator, method, K, generator_params=gparams, **mparams)
    except ValueError as exc:  # e.g. ustat degree > K-1: the reference rejects it, so do we
        pytest.skip(f"reference rejects {method}/{generator} at K={K}: {exc}")


def reference_counts(ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Plain-Python reference: per-group Counter over the valid samples; masked -> -1."""
    from collections import Counter
    B, K = ids.shape
    out = np.full((B, K), -1, dtype=np.int64)
    for b in range(B):
        valid = [j for j in range(K) if mask is None or mask[b, j]]
        c = Counter(int(ids[b, j]) for j in valid)
        for j in valid:
            out[b, j] = c[int(ids[b, j])] - 1
    return out
