"""Claim C8: the fused Triton kernels return the torch path's bits, read nothing back to the host, and
capture in a CUDA graph.

Where the fused kernels run:
* on CUDA (tests marked ``cuda``; they need a GPU and Triton);
* on CPU under Triton's interpreter: ``test_c8_fused_kernels_under_the_triton_interpreter`` reruns this
  file in a subprocess with ``TRITON_INTERPRET=1`` (skipped where Triton is not installed, as in CI).
Without either, only the dispatch and argument tests below run.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _torch_common import torch
from estimators import build_table
from estimators.torch import group_rewards, group_rewards_flat
from proofs_numeric.crosscheck.harness import crosscheck
from proofs_numeric.crosscheck.kernels import dense_kernel_triton, flat_kernel_contiguous_triton, flat_kernel_triton

try:
    import triton  # noqa: F401
    HAVE_TRITON = True
except Exception:  # noqa: BLE001 - not importable here: the fused path is unavailable
    HAVE_TRITON = False

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
CUDA = torch.cuda.is_available()
#: devices the fused kernels run on in this process (cpu = Triton's interpreter)
FUSED = ((["cpu"] if (HAVE_TRITON and INTERPRET) else [])
         + ([pytest.param("cuda", marks=pytest.mark.cuda)] if (HAVE_TRITON and CUDA) else []))
I64 = np.iinfo(np.int64)
INT_DTYPES = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8]
OUT_DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
#: hypothesis examples per property (the interpreter runs each kernel program in Python)
EXAMPLES = 12 if INTERPRET else 40


def _same(fused, reference):
    """Bit-for-bit equality (NaN where the reference has NaN)."""
    assert fused.dtype == reference.dtype and fused.shape == reference.shape
    assert fused.device == reference.device
    a = fused.cpu().view(torch.int16 if fused.element_size() == 2 else
                         (torch.int32 if fused.element_size() == 4 else torch.int64))
    b = reference.cpu().view(a.dtype)
    assert torch.equal(a, b), (fused, reference)


@st.composite
def batches(draw):
    B = draw(st.integers(1, 9))
    K = draw(st.sampled_from([2, 3, 5, 8, 16, 33, 70]))
    kind = draw(st.sampled_from(["small", "wide", "extreme", "equal"]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    if kind == "small":
        ids = rng.integers(0, draw(st.integers(1, 5)), size=(B, K))
    elif kind == "wide":  # spans beyond int32 within a tile: the int64 comparison
        ids = rng.integers(-3, 3, size=(B, K)) * (2 ** 40) + rng.integers(0, 2, size=(B, K))
    elif kind == "extreme":
        vocab = np.array([I64.min, I64.min + 1, -1, 0, I64.max - 1, I64.max], dtype=np.int64)
        ids = vocab[rng.integers(0, vocab.size, size=(B, K))]
    else:
        ids = np.full((B, K), int(rng.integers(I64.min, I64.max)), dtype=np.int64)
    return ids.astype(np.int64), rng


def _mask(rng, B, K):
    mask = rng.random((B, K)) < 0.7
    for b in range(B):
        if mask[b].sum() < 2:
            mask[b, rng.choice(K, 2, replace=False)] = True
    return mask


# ----------------------------------------------------------------------------- same bits as the torch path

@pytest.mark.parametrize("device", FUSED)
@settings(max_examples=EXAMPLES, deadline=None)
@given(batch=batches(), out=st.sampled_from(OUT_DTYPES), add=st.booleans())
def test_c8_fused_dense_equals_the_torch_path_bit_for_bit(device, batch, out, add):
    ids, rng = batch
    B, K = ids.shape
    t = torch.as_tensor(ids, device=device)
    table = build_table("kl", "jackknife", K)
    _same(group_rewards(t, table, dtype=out, add_constant=add, backend="triton"),
          group_rewards(t, table, dtype=out, add_constant=add, backend="torch"))
    mask = torch.as_tensor(_mask(rng, B, K), device=device)
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, K + 1)}
    _same(group_rewards(t, tables, mask, dtype=out, add_constant=add, backend="triton"),
          group_rewards(t, tables, mask, dtype=out, add_constant=add, backend="torch"))


@pytest.mark.parametrize("device", FUSED)
@pytest.mark.parametrize("id_dtype", INT_DTYPES, ids=str)
def test_c8_fused_dense_takes_every_integer_dtype(device, id_dtype):
    rng = np.random.default_rng(1)
    lo, hi = (0, 256) if id_dtype == torch.uint8 else (-128, 128)
    ids = torch.as_tensor(rng.integers(lo, hi, size=(50, 6)) // 40, device=device).to(id_dtype)
    raw = torch.tensor([0.25, -1.5, 3.0, 7.0, 1e-3, 2.0], dtype=torch.float64, device=device)
    _same(group_rewards(ids, raw, backend="triton"), group_rewards(ids, raw, backend="torch"))
    gid = torch.arange(50, device=device).to(id_dtype if id_dtype != torch.int8 else torch.int16)
    gid = gid.repeat_interleave(6)
    _same(group_rewards_flat(ids.reshape(-1), gid, raw, backend="triton"),
          group_rewards_flat(ids.reshape(-1), gid, raw, backend="torch"))


@pytest.mark.parametrize("device", FUSED)
@settings(max_examples=EXAMPLES, deadline=None)
@given(batch=batches(), layout=st.sampled_from(["increasing", "decreasing", "interleaved", "ragged"]),
       out=st.sampled_from([torch.float32, torch.float64]), big_labels=st.booleans())
def test_c8_fused_flat_equals_the_torch_path_bit_for_bit(device, batch, layout, out, big_labels):
    ids, rng = batch
    B, K = ids.shape
    labels = (I64.max - 5 * np.arange(B)) if big_labels else (np.arange(B) * 3 - 7)
    gid = np.repeat(labels.astype(np.int64), K)
    flat = ids.ravel()
    if layout == "decreasing":
        gid = gid[::-1].copy()
    elif layout == "interleaved":
        perm = rng.permutation(flat.size)
        flat, gid = flat[perm], gid[perm]
    elif layout == "ragged":  # drop samples (groups of 2..K), then interleave
        keep = _mask(rng, B, K).ravel()
        perm = rng.permutation(int(keep.sum()))
        flat, gid = flat[keep][perm], gid[keep][perm]
    x, g = torch.as_tensor(flat, device=device), torch.as_tensor(gid, device=device)
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, K + 1)}
    table = tables if layout == "ragged" else tables[K]
    _same(group_rewards_flat(x, g, table, dtype=out, backend="triton"),
          group_rewards_flat(x, g, table, dtype=out, backend="torch"))


@pytest.mark.parametrize("device", FUSED)
def test_c8_fused_kernels_pass_the_crosscheck(device):
    for fn in (dense_kernel_triton, flat_kernel_triton, flat_kernel_contiguous_triton):
        rep = crosscheck(fn, device=device, max_examples=EXAMPLES)
        assert rep.passed, rep.format()
        assert rep.counts_exact and max(rep.max_abs_err.values()) == 0.0


# ----------------------------------------------------------------------------- groups no table serves

@pytest.mark.parametrize("device", FUSED)
def test_c8_fused_unvalidated_groups_without_a_table_get_nan_and_validate_raises_the_torch_error(device):
    t2, t3 = build_table("kl", "plugin", 2), build_table("kl", "plugin", 3)
    ids = torch.tensor([1, 2, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5], device=device)
    gid = torch.tensor([0, 0, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4], device=device)  # sizes 2, 1, 2, 2, 5
    out = group_rewards_flat(ids, gid, {2: t2, 3: t3}, backend="triton")
    nan = torch.isnan(out).cpu()
    assert nan.tolist() == [False, False, True, False, False, False, False, True, True, True, True, True]
    ok = out.cpu()[~nan]
    ref = group_rewards_flat(ids[~nan.to(device)], gid[~nan.to(device)], t2, backend="torch").cpu()
    assert torch.equal(ok, ref)
    for validate_table, word in (({2: t2, 3: t3}, "only 1 sample"), (t2, "only 1 sample")):
        with pytest.raises(ValueError, match=word):
            group_rewards_flat(ids, gid, validate_table, backend="triton", validate=True)
    dense = torch.tensor([[1, 1, 2], [3, 3, 3]], device=device)
    mask = torch.tensor([[True, True, False], [True, False, False]], device=device)
    out = group_rewards(dense, {2: t2}, mask, backend="triton")
    assert torch.isnan(out[1, 0]) and out[1, 1:].eq(0).all() and not torch.isnan(out[0]).any()
    with pytest.raises(ValueError, match="mask row 1"):
        group_rewards(dense, {2: t2}, mask, backend="triton", validate=True)
    with pytest.raises(ValueError, match="group size 3"):
        group_rewards(torch.tensor([[1, 1, 2], [3, 3, 3]], device=device), {2: t2},
                      torch.ones(2, 3, dtype=torch.bool, device=device), backend="triton", validate=True)


@pytest.mark.parametrize("device", FUSED)
def test_c8_fused_flat_scan_stops_at_the_largest_served_size(device):
    # one group of 5000 samples and no table that large: NaN (validate=False) after O(K) work per sample
    n = 5000
    ids = torch.zeros(n + 4, dtype=torch.int64, device=device)
    gid = torch.cat([torch.zeros(n, dtype=torch.int64), torch.tensor([1, 1, 2, 2])]).to(device)
    t2 = build_table("kl", "plugin", 2)
    for g in (gid, gid.flip(0), gid[torch.randperm(n + 4).to(device)]):
        out = group_rewards_flat(ids, g, t2, backend="triton").cpu()
        big = (g.cpu() == 0)
        assert torch.isnan(out[big]).all() and torch.equal(out[~big], torch.full((4,), float(t2.values[1])))


@pytest.mark.parametrize("device", FUSED)
def test_c8_fused_raw_tables_and_callables(device):
    rng = np.random.default_rng(5)
    ids = torch.as_tensor(rng.integers(0, 3, size=(20, 4)), device=device)
    mask = torch.as_tensor(_mask(rng, 20, 4), device=device)
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, 5)}
    raw = {k: torch.as_tensor(np.array(t.values), device=device) for k, t in tables.items()}
    for tab in (raw, lambda k: tables[k], {k: np.array(t.values) for k, t in tables.items()}):
        _same(group_rewards(ids, tab, mask, backend="triton"), group_rewards(ids, tab, mask, backend="torch"))
    gid = torch.arange(20, device=device).repeat_interleave(4)
    for tab in (raw, lambda k: tables[k], list(tables[4].values)):
        _same(group_rewards_flat(ids.reshape(-1), gid, tab, backend="triton"),
              group_rewards_flat(ids.reshape(-1), gid, tab, backend="torch"))
    bad = torch.tensor([0.0, float("nan"), 1.0, 2.0], dtype=torch.float64, device=device)
    assert torch.isnan(group_rewards(ids, bad, backend="triton")).any()
    with pytest.raises(ValueError, match="finite"):
        group_rewards(ids, bad, backend="triton", validate=True)
    with pytest.raises(ValueError, match="K = 4"):
        group_rewards(ids, tables[3], backend="triton")
    with pytest.raises(ValueError, match="add_constant"):
        group_rewards(ids, raw[4], backend="triton", add_constant=True)


# ----------------------------------------------------------------------------- CUDA: syncs and graphs

@pytest.mark.cuda
@pytest.mark.cuda
@pytest.mark.skipif(not (CUDA and HAVE_TRITON), reason="needs a CUDA device and Triton")
def test_c8_fused_kernels_do_not_synchronise_with_the_host():
    dev = "cuda"
    rng = np.random.default_rng(2)
    ids = torch.as_tensor(rng.integers(0, 5, size=(4096, 16)), device=dev)
    mask = torch.as_tensor(_mask(rng, 4096, 16), device=dev)
    table = build_table("kl", "jackknife", 16)
    tables = {k: build_table("kl", "jackknife", k) for k in range(2, 17)}
    gid = torch.arange(4096, device=dev).repeat_interleave(16)
    perm = torch.randperm(gid.numel(), device=dev)
    shuf_ids, shuf_gid = ids.reshape(-1)[perm].contiguous(), gid[perm].contiguous()
    raw = torch.as_tensor(np.array(table.values), device=dev)
    calls = [lambda: group_rewards(ids, table), lambda: group_rewards(ids, tables, mask),
             lambda: group_rewards(ids, raw), lambda: group_rewards_flat(ids.reshape(-1), gid, table),
             lambda: group_rewards_flat(shuf_ids, shuf_gid, tables)]
    for call in calls:
        call()  # compiles the kernels and caches the lookups on the device
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for call in calls:
            call()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


@pytest.mark.cuda
@pytest.mark.cuda
@pytest.mark.skipif(not (CUDA and HAVE_TRITON), reason="needs a CUDA device and Triton")
def test_c8_fused_kernels_capture_in_a_cuda_graph():
    dev = "cuda"
    rng = np.random.default_rng(3)
    table = build_table("kl", "jackknife", 16)
    ids = torch.as_tensor(rng.integers(0, 5, size=(1024, 16)), device=dev)
    gid = torch.arange(1024, device=dev).repeat_interleave(16)
    static_ids = ids.clone()
    static_gid = gid.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # warm-up outside the graph: compile, cache the lookup
        group_rewards(static_ids, table)
        group_rewards_flat(static_ids.reshape(-1), static_gid, table)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        dense = group_rewards(static_ids, table)
        flat = group_rewards_flat(static_ids.reshape(-1), static_gid, table)
    for seed in range(3):
        new = torch.as_tensor(np.random.default_rng(seed).integers(0, 4, size=(1024, 16)), device=dev)
        static_ids.copy_(new)
        perm = torch.randperm(1024, device=dev)  # interleaved groups in the same static buffers
        static_gid.copy_(perm.repeat_interleave(16) if seed else gid)
        graph.replay()
        torch.cuda.synchronize()
        _same(dense, group_rewards(new, table, backend="torch"))
        _same(flat, group_rewards_flat(new.reshape(-1), static_gid, table, backend="torch"))


# ----------------------------------------------------------------------------- dispatch and arguments (any machine)

@pytest.mark.skipif(not HAVE_TRITON or INTERPRET, reason="needs Triton; runs the interpreter in a subprocess")
@pytest.mark.skipif(CUDA, reason="the fused kernels are tested on the GPU directly")
def test_c8_fused_kernels_under_the_triton_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    tests = Path(__file__).parent
    env["PYTHONPATH"] = os.pathsep.join([str(tests), str(tests.parent), env.get("PYTHONPATH", "")])
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", "fused_",
                          str(Path(__file__))], capture_output=True, text=True, env=env, timeout=1200)
    tail = (res.stdout + res.stderr)[-3000:]
    assert res.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail, tail


@pytest.mark.skipif(not HAVE_TRITON or INTERPRET or CUDA, reason="needs Triton (compiles here without a GPU)")
def test_c8_triton_kernels_compile_for_hopper():
    """Triton's front end and ptxas (shipped with Triton) build every kernel for sm_90 with no GPU: a
    kernel that the interpreter accepts but the compiler refuses fails here, not first on the GPU."""
    import inspect

    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.compiler import compile as triton_compile

    import estimators.torch.triton_kernels as tk
    if "constexprs" not in inspect.signature(ASTSource.__init__).parameters:
        pytest.skip("this Triton's ASTSource has another signature")
    dense = {"ids_ptr": "*i64", "mask_ptr": "*u8", "starts_ptr": "*i64", "values_ptr": "*fp32", "out_ptr": "*fp32",
             "B": "i32", "K": "i32", "KM": "i32", "HAS_MASK": "constexpr", "BLOCK_B": "constexpr",
             "BLOCK_K": "constexpr"}
    flat = {"g_ptr": "*i64", "x_ptr": "*i32", "N": "i32", "flags_ptr": "*i32", "perm_ptr": "*i64", "sg_ptr": "*i64",
            "sx_ptr": "*i64", "sb_ptr": "*i32", "starts_ptr": "*i64", "values_ptr": "*bf16", "KM": "i32",
            "out_ptr": "*bf16", "BLOCK": "constexpr"}
    jobs = [(tk._dense_kernel, dense, {"HAS_MASK": m, "BLOCK_B": 64, "BLOCK_K": 16}) for m in (False, True)]
    jobs += [(tk._flat_order_flags, {"g_ptr": "*i64", "N": "i32", "flags_ptr": "*i32", "BLOCK": "constexpr"}, {}),
             (tk._flat_bucket_sizes, {"g_ptr": "*i64", "N": "i32", "flags_ptr": "*i32", "ends_ptr": "*i32",
                                      "NB": "i32", "BLOCK": "constexpr"}, {}),
             (tk._flat_bucket_scatter, {"g_ptr": "*i64", "x_ptr": "*i32", "N": "i32", "flags_ptr": "*i32",
                                        "ends_ptr": "*i32", "NB": "i32", "perm_ptr": "*i64", "sg_ptr": "*i64",
                                        "sx_ptr": "*i64", "sb_ptr": "*i32", "BLOCK": "constexpr"}, {}),
             (tk._flat_rewards_kernel, flat, {})]
    for fn, sig, consts in jobs:
        consts = consts or {"BLOCK": tk.FLAT_BLOCK}
        kernel = triton_compile(ASTSource(fn=fn, signature=sig, constexprs=consts), target=GPUTarget("cuda", 90, 32))
        assert kernel.asm.get("cubin"), fn.__name__


@pytest.mark.slow
def test_c8_auto_backend_on_cpu_is_the_torch_path_and_does_not_import_triton():
    code = ("import sys, torch\n"
            "from estimators import build_table\n"
            "from estimators.torch import group_rewards, group_rewards_flat\n"
            "t = build_table('kl', 'plugin', 3)\n"
            "group_rewards(torch.tensor([[1, 1, 2]]), t); group_rewards_flat(torch.tensor([1, 1]), torch.tensor([0, 0]),"
            " build_table('kl', 'plugin', 2))\n"
            "print('triton' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(backend="cuda"), ValueError, "backend"),
    (dict(backend=None), ValueError, "backend"),
    (dict(validate="yes"), TypeError, "validate"),
    (dict(validate=1), TypeError, "validate"),
    (dict(add_constant="False"), TypeError, "add_constant"),
    (dict(add_constant=1), TypeError, "add_constant"),
    (dict(method=3), ValueError, "method"),
])
def test_c8_kernel_arguments_are_checked(kwargs, exc, word):
    ids = torch.tensor([[1, 1, 2]])
    t = build_table("kl", "plugin", 3)
    with pytest.raises(exc, match=word):
        group_rewards(ids, t, **kwargs)
    with pytest.raises(exc, match=word):
        group_rewards_flat(ids.reshape(-1), torch.zeros(3, dtype=torch.long), t, **kwargs)


@pytest.mark.parametrize("table, word", [([True, False, True], "entry 0 is True"), (["0", "1", "2"], "entry 0"),
                                         ([0.0, 1j, 2.0], "entry 1"), (np.array([True, False, True]), "real")])
def test_c8_tables_of_strings_bools_or_complex_are_refused(table, word):
    with pytest.raises(TypeError, match=word):
        group_rewards(torch.tensor([[1, 1, 2]]), table)


@pytest.mark.skipif(CUDA or INTERPRET, reason="checks the refusal where no fused path can run")
def test_c8_triton_backend_without_cuda_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="backend='triton'"):
        group_rewards(torch.tensor([[1, 1, 2]]), build_table("kl", "plugin", 3), backend="triton")
