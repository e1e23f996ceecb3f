"""Shared test configuration: hypothesis profiles and mpmath precision hygiene."""
import os

import mpmath
import pytest
from hypothesis import HealthCheck, settings

# tests never touch the user's table cache (~/.cache/alft-verify): one fresh cache per test session
if "ALFT_CACHE_DIR" not in os.environ:
    import tempfile
    os.environ["ALFT_CACHE_DIR"] = tempfile.mkdtemp(prefix="alft-test-cache-")

# hypothesis keeps its storage (example database, constants cache) under $ALFT_CACHE_DIR/hypothesis, as the
# CLI does, never in ./.hypothesis of the checkout
from proofs_numeric.crosscheck.cli import keep_hypothesis_out_of_cwd  # noqa: E402

keep_hypothesis_out_of_cwd()

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=40,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _mpmath_precision_is_reset():
    """Like mpmath's own tests: every test leaves the global precision as it found it."""
    prec = mpmath.mp.prec
    yield
    changed = mpmath.mp.prec != prec
    mpmath.mp.prec = prec
    assert not changed, "a test (or the code it called) changed mpmath's global precision"
