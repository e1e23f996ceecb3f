"""Shared data for the claim C8 torch tests: devices, dtypes, tolerances, reference pairs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from estimators import build_table  # noqa: E402

#: devices every C8 test runs on: the CPU always, CUDA where present (marked ``cuda``: ``-m cuda`` selects the
#: GPU cases on a GPU machine, ``-m "not cuda"`` leaves them out)
DEVICES = ["cpu"] + ([pytest.param("cuda", marks=pytest.mark.cuda)] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64]

#: torch.testing's default tolerances per dtype (the kernels are tighter: a float32 reward is the
#: correctly rounded float64 reward, a float64 reward equals the reference bit for bit)
TOL = {torch.float32: dict(rtol=1.3e-6, atol=1e-5), torch.float64: dict(rtol=1e-7, atol=1e-7)}

#: (method, generator, generator params, method params, smallest K the method accepts): every registered
#: method needs an entry (test_every_registered_method_has_a_reference_pair fails otherwise). Below its
#: smallest K a pair is not generated at all (the reference refuses it: test_reference_pairs_refuse_below_their_K
#: checks that), so a ValueError of build_table is a failure, never a skip.
REFERENCE_PAIRS = [
    ("ustat", "euclidean", {}, {}, 2),
    ("ustat", "power", {"alpha": 3}, {}, 3),                    # degree 2 needs K - 1 >= 2 (C1)
    ("ustat", "polynomial", {"coeffs": [0, 1, "-1/2", "1/3"]}, {}, 3),
    ("plugin", "kl", {}, {}, 2),
    ("plugin", "power", {"alpha": 2.5}, {}, 2),
    ("jackknife", "kl", {}, {}, 2),
    ("jackknife", "euclidean", {}, {}, 2),
    ("minimax", "kl", {}, {}, 2),
    ("aqp", "kl", {}, {"eps": 10.0}, 2),
]


def _pair_id(pair) -> str:
    m, g, gp, _, _ = pair
    return f"{m}-{g}{gp.get('alpha', '')}"


def reference_cases(Ks) -> list:
    """``pytest.param(pair, K)`` for every reference pair and every K in ``Ks`` the pair accepts."""
    return [pytest.param(pair, K, id=f"{_pair_id(pair)}-K{K}") for pair in REFERENCE_PAIRS for K in Ks
            if K >= pair[4]]


def build_reference_table(method, generator, gparams, mparams, K_min, K):
    """The pair's table at K (a refusal is a test failure: the cases are filtered by K_min up front)."""
    assert K >= K_min, (method, generator, K)
    return build_table(generator, method, K, generator_params=gparams, **mparams)


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
