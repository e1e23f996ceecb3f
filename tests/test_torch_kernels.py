"""Claim C8: the torch group-reward kernels against the reference counts and tables."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _torch_common import (DEVICES, DTYPES, REFERENCE_PAIRS, TOL, build_reference_table, reference_cases,
                           reference_counts, torch)
from estimators import METHODS, Table, build_table, get_generator
from estimators.montecarlo import leave_one_out_counts as np_counts
from estimators.torch import (answers_to_ids, group_rewards, group_rewards_flat, leave_one_out_counts,
                              leave_one_out_counts_flat, normalize_answer)

METHODS_DENSE = ["auto", "scatter", "pairwise", "sort"]
I64 = np.iinfo(np.int64)


def test_c8_importing_estimators_does_not_import_torch():
    code = "import sys, estimators, estimators.moments, estimators.montecarlo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_c8_every_registered_method_has_a_reference_pair():
    listed = {m for m, *_ in REFERENCE_PAIRS}
    missing = sorted(set(METHODS) - listed)
    assert not missing, f"add REFERENCE_PAIRS entries (tests/_torch_common.py) for methods {missing}"


@pytest.mark.parametrize("pair", REFERENCE_PAIRS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_c8_reference_pairs_refuse_below_their_K_and_accept_it(pair):
    """The cases left out of the parametrized tests are exactly those the reference refuses (K < K_min)."""
    method, gen, gp, mp, K_min = pair
    for K in range(2, K_min):
        with pytest.raises(ValueError):
            build_table(gen, method, K, generator_params=gp, **mp)
    assert build_table(gen, method, K_min, generator_params=gp, **mp).K == K_min


# ----------------------------------------------------------------------------- counts

@st.composite
def dense_batches(draw, with_mask=False):
    B = draw(st.integers(1, 6))
    K = draw(st.sampled_from([2, 3, 5, 8, 17, 70]))
    kind = draw(st.sampled_from(["small", "wide", "extreme", "equal", "distinct"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "small":
        ids = rng.integers(0, draw(st.integers(1, 4)), size=(B, K))
    elif kind == "wide":
        ids = rng.integers(-10**12, 10**12, size=(B, K)) // 10**11
    elif kind == "extreme":
        vocab = np.array([I64.min, I64.min + 1, -1, 0, I64.max - 1, I64.max], dtype=np.int64)
        ids = vocab[rng.integers(0, vocab.size, size=(B, K))]
    elif kind == "equal":
        ids = np.full((B, K), int(rng.integers(I64.min, I64.max)), dtype=np.int64)
    else:
        ids = np.tile(np.arange(K, dtype=np.int64) * 7919 + I64.max - 7919 * K, (B, 1))
    mask = None
    if with_mask:
        mask = rng.random((B, K)) < 0.7
        for b in range(B):  # at least 2 valid per row
            if mask[b].sum() < 2:
                mask[b, rng.choice(K, 2, replace=False)] = True
    return ids.astype(np.int64), mask


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=40)
@given(batch=dense_batches())
def test_c8_dense_counts_equal_reference_exactly(device, batch):
    ids, _ = batch
    ref = np_counts(ids)
    t = torch.as_tensor(ids, device=device)
    for method in METHODS_DENSE:
        got = leave_one_out_counts(t, method=method)
        assert got.dtype == torch.int64 and got.device.type == device
        np.testing.assert_array_equal(got.cpu().numpy(), ref, err_msg=method)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=30)
@given(batch=dense_batches(with_mask=True))
def test_c8_masked_counts_equal_reference_exactly(device, batch):
    ids, mask = batch
    ref = reference_counts(ids, mask)
    t, m = torch.as_tensor(ids, device=device), torch.as_tensor(mask, device=device)
    for method in ["auto", "scatter", "pairwise", "sort"]:
        np.testing.assert_array_equal(leave_one_out_counts(t, m, method=method).cpu().numpy(), ref)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=30)
@given(batch=dense_batches(), data=st.data())
def test_c8_flat_counts_equal_reference_exactly(device, batch, data):
    ids, _ = batch
    B, K = ids.shape
    ref = np_counts(ids).ravel()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    labels = data.draw(st.sampled_from(["rows", "big", "negative"]))
    gl = {"rows": np.arange(B), "big": I64.max - 3 * np.arange(B), "negative": -5 - np.arange(B)}[labels]
    gid = np.repeat(gl.astype(np.int64), K)
    perm = rng.permutation(B * K)  # groups not contiguous
    for method in ["auto", "scatter", "sort"]:
        c, sz = leave_one_out_counts_flat(torch.as_tensor(ids.ravel()[perm], device=device),
                                          torch.as_tensor(gid[perm], device=device), method=method)
        np.testing.assert_array_equal(c.cpu().numpy(), ref[perm])
        assert bool((sz == K).all())


def test_c8_small_integer_dtypes_do_not_overflow():
    ids = torch.tensor([[-128, 127, -128, 0], [255 - 256, 1, 1, 1]], dtype=torch.int8)
    assert leave_one_out_counts(ids).tolist() == [[1, 0, 1, 0], [0, 2, 2, 2]]
    u = torch.tensor([[0, 255, 255]], dtype=torch.uint8)
    assert leave_one_out_counts(u).tolist() == [[0, 1, 1]]


# ----------------------------------------------------------------------------- rewards

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pair, K", reference_cases([2, 5, 16]))
def test_c8_rewards_match_reference_for_every_shipped_estimator(device, dtype, pair, K):
    table = build_reference_table(*pair, K)
    rng = np.random.default_rng(K)
    ids = rng.integers(0, 3, size=(64, K))
    ids[0] = 5  # all equal
    ids[1] = np.arange(K)  # all distinct
    counts = np_counts(ids)
    for add in (False, True):
        ref = table.values[counts] + (float(table.generator.dropped_constant) if add else 0.0)
        t = torch.as_tensor(ids, device=device)
        dense = group_rewards(t, table, dtype=dtype, add_constant=add)
        assert dense.dtype == dtype and dense.shape == ids.shape and dense.device.type == device
        torch.testing.assert_close(dense.cpu(), torch.as_tensor(ref, dtype=dtype), **TOL[dtype])
        # exactness: the float32 reward is the correctly rounded float64 reward
        assert torch.equal(dense.cpu(), torch.as_tensor(ref).to(dtype))
        gid = torch.arange(64, device=device).repeat_interleave(K)
        flat = group_rewards_flat(t.reshape(-1), gid, table, dtype=dtype, add_constant=add)
        assert torch.equal(flat.cpu(), dense.cpu().reshape(-1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_c8_ragged_rewards_with_table_per_group_size(device, dtype):
    rng = np.random.default_rng(3)
    B, K = 40, 9
    ids = rng.integers(0, 3, size=(B, K))
    mask = np.zeros((B, K), dtype=bool)
    sizes = rng.integers(2, K + 1, size=B)
    for b, s in enumerate(sizes):
        mask[b, rng.choice(K, s, replace=False)] = True
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, K + 1)}
    counts = reference_counts(ids, mask)
    ref = np.zeros((B, K))
    for b in range(B):
        for j in range(K):
            if mask[b, j]:
                ref[b, j] = tables[int(sizes[b])].values[counts[b, j]]
    t, m = torch.as_tensor(ids, device=device), torch.as_tensor(mask, device=device)
    for tab in (tables, lambda k: tables[k]):
        got = group_rewards(t, tab, m, dtype=dtype)
        torch.testing.assert_close(got.cpu(), torch.as_tensor(ref, dtype=dtype), **TOL[dtype])
        assert bool((got[~m] == 0).all())
    # the same batch flattened, dropping masked entries, groups interleaved
    rows = np.repeat(np.arange(B), K).reshape(B, K)
    perm = rng.permutation(int(mask.sum()))
    fi = torch.as_tensor(ids[mask][perm], device=device)
    fg = torch.as_tensor(rows[mask][perm] * 1000 - 7, device=device)
    got = group_rewards_flat(fi, fg, tables, dtype=dtype)
    torch.testing.assert_close(got.cpu(), torch.as_tensor(ref[mask][perm], dtype=dtype), **TOL[dtype])


def test_c8_raw_tensor_table_and_default_dtype():
    ids = torch.tensor([[1, 1, 2]])
    g64 = torch.tensor([0.5, 1.5, 2.5], dtype=torch.float64)
    out = group_rewards(ids, g64)
    assert out.dtype == torch.float64 and out.tolist() == [[1.5, 1.5, 0.5]]
    assert group_rewards(ids, build_table("kl", "plugin", 3)).dtype == torch.get_default_dtype()
    assert group_rewards(ids, np.array([0.0, 1.0, 2.0]), dtype=torch.float64).tolist() == [[1.0, 1.0, 0.0]]


def test_c8_kernels_are_deterministic():
    rng = np.random.default_rng(0)
    ids = torch.as_tensor(rng.integers(0, 5, size=(256, 16)))
    table = build_table("kl", "jackknife", 16)
    a = group_rewards(ids, table)
    assert all(torch.equal(a, group_rewards(ids, table)) for _ in range(3))


# ----------------------------------------------------------------------------- bad input

def _kl(K):
    return build_table("kl", "plugin", K)


@pytest.mark.parametrize("call, exc, word", [
    (lambda: group_rewards(torch.zeros(2, 3), _kl(3)), TypeError, "ids"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.bool), _kl(3)), TypeError, "ids"),
    (lambda: group_rewards([[1, 2, 3]], _kl(3)), TypeError, "ids"),
    (lambda: group_rewards(torch.zeros(6, dtype=torch.long), _kl(3)), ValueError, "ids"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(4)), ValueError, "table"),
    (lambda: group_rewards(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, dtype=torch.float64)),
     ValueError, "K"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0.0, float("nan"), 1.0])),
     ValueError, "table"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 1, 2])), TypeError, "table"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 1, dtype=torch.float64)),
     ValueError, "table"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), "kl"), TypeError, "table"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3), dtype=torch.int32), TypeError, "dtype"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, dtype=torch.float64),
                           add_constant=True), ValueError, "add_constant"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3), torch.ones(2, 3)), TypeError, "mask"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3), torch.ones(3, dtype=torch.bool)),
     ValueError, "mask"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3),
                           torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)), ValueError, "mask row 1"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), {3: _kl(3)},
                           torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)), ValueError, "group size 2"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3),
                           torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)), ValueError, "table"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), {3: _kl(2)}), ValueError, r"table\[3\]"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), _kl(3),
                           torch.ones(2, 3, dtype=torch.bool, device="meta")), ValueError, "device"),
    (lambda: group_rewards(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, device="meta")), ValueError,
     "device"),
    (lambda: group_rewards_flat(torch.zeros(4, dtype=torch.long), torch.zeros(3, dtype=torch.long), _kl(4)),
     ValueError, "group_ids"),
    (lambda: group_rewards_flat(torch.zeros(4, dtype=torch.long), torch.zeros(4, 1, dtype=torch.long), _kl(4)),
     ValueError, "group_ids"),
    (lambda: group_rewards_flat(torch.zeros(3, dtype=torch.long), torch.tensor([0, 0, 1]), _kl(2)),
     ValueError, "group_ids"),
    (lambda: group_rewards_flat(torch.zeros(3, dtype=torch.long), torch.tensor([0, 0, 1]), {2: _kl(2)}),
     ValueError, "group_ids"),
    (lambda: group_rewards_flat(torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 1]), _kl(3)),
     ValueError, "table"),
    (lambda: group_rewards_flat(torch.zeros(4, dtype=torch.long), torch.tensor([0, 0, 1, 1.0]), _kl(2)),
     TypeError, "group_ids"),
    (lambda: group_rewards_flat(torch.zeros(5, dtype=torch.long), torch.tensor([0, 0, 1, 1, 1]), {2: _kl(2)}),
     ValueError, "group size 3"),
])
def test_c8_bad_input_raises_naming_the_argument(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_c8_table_rejects_nan_before_the_kernel_sees_it():
    # the table API itself never holds NaN; raw tensors are checked by the kernel (above)
    with pytest.raises(ValueError, match="finite"):
        Table(values=[0.0, float("nan")], generator=get_generator("kl"), method="x")


# ----------------------------------------------------------------------------- answers -> ids

def test_c8_answers_to_ids_flat_nested_none_and_normalisation():
    assert answers_to_ids(["a", "b", "a"]).tolist() == [0, 1, 0]
    assert answers_to_ids([" 42. ", "42", "$42$"], normalize_answer).tolist() == [0, 0, 0]
    assert answers_to_ids(["x", None, None, "x"]).tolist() == [0, 1, 2, 0]
    assert answers_to_ids(["x", None, None, "x"], none="same").tolist() == [0, 1, 1, 0]
    nested = answers_to_ids([["b", "a", "b"], ["c", "c", "d"]])
    assert nested.shape == (2, 3) and nested.tolist() == [[0, 1, 0], [0, 0, 1]]
    assert leave_one_out_counts(nested).tolist() == [[1, 0, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match="same length"):
        answers_to_ids([["a"], ["b", "c"]])
    with pytest.raises(TypeError, match="strings"):
        answers_to_ids([1, 2])
    with pytest.raises(TypeError, match="list"):
        answers_to_ids("abc")
    with pytest.raises(ValueError, match="none"):
        answers_to_ids(["a"], none="skip")


def test_c8_answers_to_ids_per_group_numbering():
    ids = answers_to_ids(["a", "b", "a", "a", None, "b"], group_ids=[7, 7, 3, 7, 3, 3])
    # group 7: a, b, a -> 0, 1, 0 ; group 3: a, None, b -> 0, 2, 1 (None after the real answers)
    assert ids.tolist() == [0, 1, 0, 0, 2, 1]
    c, sz = leave_one_out_counts_flat(ids, torch.tensor([7, 7, 3, 7, 3, 3]))
    assert c.tolist() == [1, 0, 0, 1, 0, 0] and sz.tolist() == [3] * 6
    with pytest.raises(ValueError, match="group_ids"):
        answers_to_ids(["a"], group_ids=[1, 2])
    with pytest.raises(ValueError, match="flat form"):
        answers_to_ids([["a", "b"]], group_ids=[0, 0])


@settings(max_examples=40)
@given(rows=st.integers(2, 6).flatmap(lambda K: st.lists(
    st.lists(st.one_of(st.none(), st.sampled_from(["7", " 7", "7.", "x", "X"])), min_size=K, max_size=K),
    min_size=1, max_size=5)))
def test_c8_text_answers_end_to_end_match_a_counter_loop(rows):
    from collections import Counter
    K = len(rows[0])
    probe = torch.arange(K, dtype=torch.float64)
    got = group_rewards(answers_to_ids(rows, normalize_answer), probe)
    for b, row in enumerate(rows):
        keys = [None if a is None else normalize_answer(a) for a in row]
        c = Counter(k for k in keys if k is not None)
        assert got[b].tolist() == [0.0 if k is None else float(c[k] - 1) for k in keys]
    flat = [a for row in rows for a in row]
    gids = torch.arange(len(rows)).repeat_interleave(K)
    ids = answers_to_ids(flat, normalize_answer, group_ids=gids)
    assert torch.equal(group_rewards_flat(ids, gids, probe), got.reshape(-1))


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_c8_kernels_run_under_torch_deterministic_mode(device):
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        ids = torch.tensor([[2 ** 62, -2 ** 62, 2 ** 62, 0], [1, 1, 1, 2]], device=device)
        mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool, device=device)
        for method in METHODS_DENSE:
            assert leave_one_out_counts(ids, method=method).tolist() == [[1, 0, 1, 0], [2, 2, 2, 0]]
            assert leave_one_out_counts(ids, mask, method=method).tolist() == [[1, 0, 1, -1], [2, 2, 2, 0]]
        gid = torch.tensor([0, 0, 0, 0, 9, 9, 9, 9], device=device)
        for method in ["auto", "scatter", "sort"]:
            c, _ = leave_one_out_counts_flat(ids.reshape(-1), gid, method=method)
            assert c.tolist() == [1, 0, 1, 0, 2, 2, 2, 0]
        tabs = {3: build_table("kl", "plugin", 3), 4: build_table("kl", "plugin", 4)}
        group_rewards(ids, tabs, mask)
        group_rewards_flat(ids.reshape(-1), gid, tabs[4])
    finally:
        torch.use_deterministic_algorithms(before)
