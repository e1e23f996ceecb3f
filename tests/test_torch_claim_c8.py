"""Claim C8 report section: the quick profile passes and is JSON-serialisable; SKIP without torch."""
import json
import sys

import pytest

from _torch_common import torch  # noqa: F401
from proofs_numeric.c8_torch_engines import CLAIM
from proofs_numeric.claims import claim_ids
from proofs_numeric.result import PASS, SKIP, RunContext


def test_c8_is_registered_in_order():
    ids = claim_ids()
    assert "C8" in ids and ids == sorted(ids, key=lambda s: int(s[1:]))


@pytest.mark.slow
def test_c8_quick_profile_passes():
    res = CLAIM.execute("quick", RunContext())
    assert res.status == PASS, (res.summary, res.tables)
    doc = json.loads(json.dumps(res.to_json()))
    assert "cpu" in doc["figures"]["devices"]
    cpu = doc["figures"]["per_device"]["cpu"]
    assert cpu["counts"]["mismatches"] == 0
    assert cpu["float64"]["reward_max_abs_err"] == 0.0
    assert cpu["float32"]["rewards_equal_rounded_reference"] is True
    assert all(r[-1] == "expected" for r in res.tables[-1].rows)


def test_c8_skips_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    res = CLAIM.execute("quick", RunContext())
    assert res.status == SKIP and "PyTorch" in res.summary
