"""Integration (claims C8, C9): the README's verl launch lines compose in verl's own Hydra entry point.

Each ``python -m verl.trainer.main_ppo ...`` line of the README's verl section is run as written (the
trailing ``...`` dropped) with ``--cfg job``: verl's ``@hydra.main`` composes its config with the overrides in
struct mode and prints it, without starting a run. The printed config then builds what verl would build:
the v1 trainer's replay buffer through verl's own ``PPOTrainer._build_replay_buffer`` (the alft one, with the
advantage read from the line's ``algorithm`` settings), and for the legacy line the rollout manager class
verl would load and the group reward it would set up. The form the README used to show
(``actor_rollout_ref.rollout.agent.agent_loop_manager_class=...`` without ``+``) is refused by verl's Hydra,
which the second test checks with Hydra's compose API on verl's config directory. Needs the ``integration`` extra; skipped otherwise.
"""
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

if os.environ.get("ALFT_REQUIRE_INTEGRATION") == "1":  # tox -e integration and CI: missing is an error
    import transfer_queue  # noqa: F401
    import verl  # noqa: F401
else:
    pytest.importorskip("verl", reason="integration test: needs verl (pip install -e '.[integration]')")
    pytest.importorskip("transfer_queue", reason="integration test: needs TransferQueue (the integration extra)")
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def readme_launch_lines() -> list[list[str]]:
    """The verl launch lines of the README's verl section, as argument lists (continuations joined, the
    trailing ``...`` and comment dropped)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("*verl 0.9.*"):]
    section = section[:section.index("\n## ")]
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        if "verl.trainer.main_ppo" not in block:
            continue
        cmd = block.replace("\\\n", " ").split("#")[0].strip()
        assert cmd.endswith("..."), cmd
        lines.append(shlex.split(cmd[:-3]))
    return lines


def compose(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    assert args[:3] == ["python", "-m", "verl.trainer.main_ppo"], args
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in os.environ.get(
        "PYTHONPATH", "").split(os.pathsep) if p]), HYDRA_FULL_ERROR="1")
    return subprocess.run([sys.executable, *args[1:], "--cfg", "job"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_readme_verl_launch_lines_compose_in_verls_hydra(tmp_path):
    from omegaconf import OmegaConf

    lines = readme_launch_lines()
    assert len(lines) == 2 and sum("trainer.use_v1=false" in a for a in lines) == 1
    with ThreadPoolExecutor(2) as pool:  # both Hydra compositions at once (each is mostly imports)
        results = list(pool.map(lambda a: compose(a, tmp_path), lines))
    for args, proc in zip(lines, results):
        assert proc.returncode == 0, f"{shlex.join(args)}\n{proc.stderr[-3000:]}"
    configs = [OmegaConf.create(p.stdout) for p in results]
    for cfg in configs:
        OmegaConf.set_struct(cfg, True)
        assert cfg.alft.generator == "kl" and cfg.alft.method == "jackknife" and cfg.alft.scale == -0.1
    v1 = next(c for c, a in zip(configs, lines) if "trainer.use_v1=false" not in a)
    legacy = next(c for c, a in zip(configs, lines) if "trainer.use_v1=false" in a)
    assert v1.trainer.use_v1 is True  # verl's default trainer

    # v1: verl builds the replay buffer the line names, and it reads the line's settings
    from verl.trainer.ppo.v1 import PPOTrainerSync

    from estimators import build_table
    from estimators.torch.verl_v1 import AlftReplayBufferSync
    trainer = object.__new__(PPOTrainerSync)
    trainer.config, trainer.trainer_mode = v1, v1.trainer.v1.trainer_mode
    buffer = trainer._build_replay_buffer()
    assert isinstance(buffer, AlftReplayBufferSync)
    hook = buffer.alft_group_reward
    assert (hook.n, hook.reading.advantage, hook.reading.setting) == (
        8, "rloo", "verl grpo, norm_adv_by_std_in_grpo=False")
    assert list(hook.table(8).values) == list(build_table("kl", "jackknife", 8, advantage="rloo").values)

    # legacy: the manager class verl loads from the key, and the same settings
    from verl.utils.import_utils import load_class_from_fqn

    from estimators.torch.verl_manager import AlftAgentLoopManager
    from estimators.torch.verl_settings import VerlGroupReward
    fqn = legacy.actor_rollout_ref.rollout.agent.agent_loop_manager_class
    assert load_class_from_fqn(fqn, "AgentLoopManager") is AlftAgentLoopManager
    hook = VerlGroupReward(legacy)
    assert (hook.n, hook.reading.advantage) == (8, "rloo")


def test_the_old_manager_key_without_plus_is_refused_by_verls_hydra():
    """verl 0.9.1's YAML does not declare agent_loop_manager_class: without ``+`` Hydra (struct mode) refuses it,
    with ``+`` it composes (Hydra's compose API on verl's own config directory)."""
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import ConfigCompositionException

    key = "actor_rollout_ref.rollout.agent.agent_loop_manager_class=estimators.torch.verl_manager.AlftAgentLoopManager"
    with initialize_config_dir(config_dir=str(Path(verl.__file__).parent / "trainer" / "config"), version_base=None):
        with pytest.raises(ConfigCompositionException, match="agent_loop_manager_class"):
            hydra_compose("ppo_trainer", overrides=[key])
        cfg = hydra_compose("ppo_trainer", overrides=["+" + key])
    assert cfg.actor_rollout_ref.rollout.agent.agent_loop_manager_class.endswith("AlftAgentLoopManager")
