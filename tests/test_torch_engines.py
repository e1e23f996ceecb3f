"""Claim C8: torch exact moments and torch Monte Carlo against the reference engines."""
import numpy as np
import pytest

from _torch_common import DEVICES, DTYPES, REFERENCE_PAIRS, build_reference_table, reference_cases, torch
from estimators import build_table
from estimators import moments as ref_moments
from estimators.montecarlo import leave_one_out_counts as np_counts
from estimators.montecarlo import monte_carlo as ref_monte_carlo
from estimators.torch import leave_one_out_counts
from estimators.torch.moments import MOMENT_TOL, as_numpy, moment_error, moments
from estimators.torch.montecarlo import group_sums, monte_carlo, sample_groups

P_GRID = np.concatenate([[0.0, 1e-300, 1e-12, 1e-6, 0.5, 1 - 1e-9, 1.0], np.linspace(0, 1, 97)])
FIELDS = ("mean", "var", "bias", "weighted_bias", "weighted_var")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair, K", reference_cases([2, 5, 16, 64]))
def test_c8_torch_moments_match_float64_reference(device, dtype, pair, K):
    table = build_reference_table(*pair, K)
    # compare at the p the dtype can represent (1e-300 is 0 in float32)
    ps = torch.as_tensor(P_GRID).to(dtype).to(torch.float64).numpy()
    ref = ref_moments(table, ps)
    got = as_numpy(moments(table, torch.as_tensor(ps, device=device), dtype=dtype))
    assert got.engine == f"torch-{str(dtype).split('.')[-1]}"
    for f in FIELDS:
        r, g = getattr(ref, f), getattr(got, f)
        # non-finite reference values (bias of log p at p = 0) must be non-finite here too
        assert np.array_equal(np.isfinite(r), np.isfinite(g)), f
        err = moment_error(g, r, table)
        assert err <= MOMENT_TOL[dtype], (f, err)


@pytest.mark.parametrize("pair", [p for p in REFERENCE_PAIRS if p[:2] in (("plugin", "kl"), ("ustat", "power"))])
def test_c8_torch_moments_match_mpmath_reference(pair):
    table = build_reference_table(*pair, 12)
    ps = [0.0, 0.01, 0.3, 0.77, 1.0]
    ref = ref_moments(table, ps, engine="mpmath", dps=40).as_float()
    got = as_numpy(moments(table, ps))
    for f in ("mean", "var", "weighted_bias", "weighted_var"):
        assert moment_error(getattr(got, f), getattr(ref, f), table) <= MOMENT_TOL[torch.float64], f


@pytest.mark.parametrize("bad, exc", [([0.5, float("nan")], ValueError), ([1.5], ValueError), ([-0.1], ValueError),
                                      ([], ValueError), (torch.tensor([0.2, 2.0]), ValueError)])
def test_c8_torch_moments_reject_what_the_reference_rejects(bad, exc):
    table = build_table("kl", "plugin", 4)
    ref_bad = bad.numpy() if isinstance(bad, torch.Tensor) else bad
    with pytest.raises(exc):
        ref_moments(table, ref_bad)
    with pytest.raises(exc, match="p"):
        moments(table, bad)


def test_c8_torch_moments_argument_errors():
    table = build_table("kl", "plugin", 4)
    with pytest.raises(TypeError, match="table"):
        moments(table.values, [0.5])
    with pytest.raises(TypeError, match="dtype"):
        moments(table, [0.5], dtype=torch.int64)
    with pytest.raises(ValueError, match="device"):
        moments(table, torch.tensor([0.5]), device="meta")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method, gen, K", [("jackknife", "kl", 8), ("plugin", "kl", 3), ("ustat", "euclidean", 5)])
def test_c8_torch_monte_carlo_contains_exact_moments(device, dtype, method, gen, K):
    table = build_table(gen, method, K)
    q = np.array([0.55, 0.25, 0.15, 0.05])
    res = monte_carlo(table, q, 60000, seed=7, device=device, dtype=dtype)
    exact = ref_moments(table, q)
    cmp = res.compare(exact.mean, exact.var)
    assert cmp.all_within, (cmp.z_mean, cmp.z_var)
    # statistically the same as the reference harness (different random streams)
    ref = ref_monte_carlo(table, q, 60000, seed=7)
    assert ref.compare(exact.mean, exact.var).all_within
    assert np.all(np.abs(res.mean - ref.mean) <= res.z_crit * np.hypot(res.mean_se, ref.mean_se) + 1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_c8_torch_monte_carlo_pieces_match_numpy_on_the_same_answers(device):
    table = build_table("kl", "jackknife", 6)
    q = np.array([0.4, 0.4, 0.2])
    gen = torch.Generator(device=device)
    gen.manual_seed(3)
    ids = sample_groups(q, 6, 5000, gen, device=device)
    freq = np.bincount(ids.cpu().numpy().ravel(), minlength=3) / ids.numel()
    assert np.all(np.abs(freq - q) < 0.02)
    ids_np = ids.cpu().numpy()
    counts = np_counts(ids_np)
    np.testing.assert_array_equal(leave_one_out_counts(ids).cpu().numpy(), counts)
    r = table.values[counts]
    s1 = np.zeros((5000, 3))
    s2 = np.zeros((5000, 3))
    rows = np.repeat(np.arange(5000), 6)
    np.add.at(s1, (rows, ids_np.ravel()), r.ravel())
    np.add.at(s2, (rows, ids_np.ravel()), (r * r).ravel())
    t1, t2 = group_sums(ids, torch.as_tensor(r, device=device), 3)
    np.testing.assert_allclose(t1.cpu().numpy(), s1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t2.cpu().numpy(), s2, rtol=1e-12, atol=1e-12)


def test_c8_torch_monte_carlo_is_reproducible_and_validates():
    table = build_table("kl", "plugin", 4)
    a = monte_carlo(table, [0.5, 0.5], 1000, seed=1)
    b = monte_carlo(table, [0.5, 0.5], 1000, seed=1)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.var, b.var)
    for kwargs, exc in [(dict(probs=[0.5, 0.6], n_groups=10), ValueError), (dict(probs=[1.0], n_groups=1), ValueError),
                        (dict(probs=[1.0], n_groups=10, alpha=2.0), ValueError)]:
        args = dict(kwargs)
        with pytest.raises(exc):
            ref_monte_carlo(table, seed=0, **args)
        with pytest.raises(exc):
            monte_carlo(table, seed=0, **args)
    with pytest.raises(TypeError, match="dtype"):
        monte_carlo(table, [1.0], 10, seed=0, dtype=torch.int32)
    with pytest.raises(TypeError, match="table"):
        monte_carlo(table.values, [1.0], 10, seed=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_c8_torch_monte_carlo_counts_engine_equals_the_kernel_engine_on_the_same_answers(device, dtype):
    # same seed and batch: the same sampled answers; S1 = n g(n - 1) vs the kernel's per-sample sums
    table = build_table("kl", "jackknife", 7)
    q = np.array([0.5, 0.3, 0.15, 0.05])
    a = monte_carlo(table, q, 30000, seed=11, batch=4096, device=device, dtype=dtype, engine="kernel")
    b = monte_carlo(table, q, 30000, seed=11, batch=4096, device=device, dtype=dtype, engine="counts")
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(b.var, a.var, rtol=1e-10, atol=1e-13)
    exact = ref_moments(table, q)
    assert b.compare(exact.mean, exact.var).all_within
    seen = []
    monte_carlo(table, q, 10000, seed=1, batch=4096, device=device, engine="counts",
                progress=lambda done, n: seen.append((done, n)))
    assert seen == [(4096, 10000), (8192, 10000), (10000, 10000)]


def test_c8_torch_monte_carlo_engine_argument_is_checked():
    table = build_table("kl", "plugin", 4)
    with pytest.raises(ValueError, match="engine"):
        monte_carlo(table, [0.5, 0.5], 100, seed=0, engine="fast")
    with pytest.raises(TypeError, match="progress"):
        monte_carlo(table, [0.5, 0.5], 100, seed=0, progress="yes")
