"""Benchmark of ``alft trainer-check`` (claim C9): trainer steps per second, TRL and verl side by side.

Run:  python -m pytest benchmarks/bench_trainer_check.py --benchmark-only   (needs the integration extra)

One seed of the corrected Euclidean K = 4 case, the default batch (128 groups of 4 = 512 one-token completions
per step), 40 optimizer steps per round:

* ``trl``: TRL 1.16's GRPOTrainer (generation, both reward functions, advantages, loss, Adam step) plus reading
  the policy from the logits after every step;
* ``verl``: the same update through verl's advantage and policy-loss code (sampling by torch.multinomial);
* ``reading``: reading the policy alone (one forward pass of the prompt), 40 times.

Steps per second (median) and the ratio trl / verl go to ``.benchmarks/trainer_check.json`` and are printed.
Torch runs single-threaded (what the command does).
"""
import pytest

pytest.importorskip("trl", reason="needs the integration extra (trl 1.16.0)")
pytest.importorskip("verl", reason="needs the integration extra (verl 0.9.1)")
torch = pytest.importorskip("torch")

from _summary import publish, record_median  # noqa: E402

from estimators import build_table  # noqa: E402
from proofs_numeric.game.spec import get_game  # noqa: E402
from proofs_numeric.trainer_check.cases import default_settings  # noqa: E402
from proofs_numeric.trainer_check.tiny_model import build_tiny_lm  # noqa: E402
from proofs_numeric.trainer_check.trl_runner import run_trl_seed  # noqa: E402
from proofs_numeric.trainer_check.verl_runner import run_verl_seed  # noqa: E402

torch.set_num_threads(1)
STEPS, K = 40, 4
_MEDIANS: dict = {}


@pytest.fixture(scope="module")
def case():
    return get_game("euclidean"), build_table("euclidean", "ustat", K, advantage="rloo")


@pytest.mark.parametrize("engine", ["trl", "verl"])
def test_trainer_steps(benchmark, case, engine):
    game, table = case
    st = default_settings(K, engine, steps=STEPS)
    run = run_trl_seed if engine == "trl" else run_verl_seed
    out = benchmark.pedantic(run, args=(game, table, st, 0), rounds=3, iterations=1, warmup_rounds=1)
    assert out["history"].shape == (STEPS + 1, game.m)
    record_median(_MEDIANS, benchmark, engine)


def test_reading_the_policy(benchmark):
    lm = build_tiny_lm(5)
    benchmark(lambda: [lm.answer_distribution() for _ in range(STEPS)])
    record_median(_MEDIANS, benchmark, "reading")


@pytest.fixture(scope="module", autouse=True)
def _side_by_side(request):
    yield
    if not {"trl", "verl"} <= set(_MEDIANS):
        return
    sps = {k: STEPS / v for k, v in _MEDIANS.items() if k in ("trl", "verl")}
    summary = {"steps_per_second": sps, "completions_per_step": 512, "medians_s": _MEDIANS,
               "trl_over_verl_time": _MEDIANS["trl"] / _MEDIANS["verl"],
               "reading_share_of_trl": _MEDIANS.get("reading", 0.0) / _MEDIANS["trl"]}
    publish(request, "trainer_check.json", summary,
            [f"trainer-check: TRL {sps['trl']:.1f} steps/s, verl path {sps['verl']:.1f} steps/s at 512 completions per "
             f"step (TRL takes {summary['trl_over_verl_time']:.1f}x the verl path's time; reading the policy is "
             f"{100 * summary['reading_share_of_trl']:.1f}% of TRL's)"])
