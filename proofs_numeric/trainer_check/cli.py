"""``alft trainer-check``: train the tiny LM with TRL's GRPOTrainer (or through verl's advantage code) and compare
where it lands with the game's exact fixed point (claim C9).

``alft trainer-check --game euclidean --K 4 --method ustat --advantage rloo --format json`` runs one case;
``alft trainer-check --all --out DIR`` runs the pairs of :mod:`.cases` (``--profile full``: all of them and the
TRL settings sweep) and writes ``trainer_check.json`` and ``trainer_check.md`` into DIR.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from estimators.outputs import OutputKind

__all__ = ["add_parser", "TRAINER_CHECK_DIR", "DEFAULT_OUT"]

DEFAULT_OUT = "reports/trainer_check"


#: the folders ``alft trainer-check --all/--sweep`` owns (the output rule of :mod:`estimators.outputs`)
TRAINER_CHECK_DIR = OutputKind(command="alft trainer-check",
                               markers=((".alft-trainer-check.json", "schema", "alft-verify/trainer-check-dir"),))


def add_parser(sub) -> None:
    from ..game.spec import GAMES
    from ..helpformat import HelpFormatter
    from .cases import DEFAULT_SEEDS, DEFAULT_STEPS, PAIRS, PROFILES
    from .predict import TABLE_ADVANTAGES
    from .trl_runner import SCALE_REWARDS

    p = sub.add_parser(
        "trainer-check", help="does a real trainer land on the game's fixed point? (C9)", formatter_class=HelpFormatter,
        description="Train a tiny random LM whose completion is one answer token with TRL's GRPOTrainer (or verl's "
                    "advantage code), read its answer distribution from the logits, and compare the end point over "
                    "seeds with the game's exact fixed point for the same table and advantage. Needs the "
                    "integration extra (trl, verl).",
        epilog="exit status:\n  0  done (one case: printed whatever it found; --all, --pair, --sweep: every pair "
               "agrees and every sweep entry ran)\n  1  --all, --pair or --sweep: a pair disagrees or an entry "
               "failed (the record is still written)\n  2  bad arguments, or trl/verl missing (nothing is run)\n\n"
               "examples:\n"
               "  alft trainer-check --game euclidean --K 4 --method ustat --advantage rloo --format json\n"
               "  alft trainer-check --game default --K 8 --method jackknife --scale-rewards group\n"
               "  alft trainer-check --engine verl --adv-estimator grpo --no-norm-adv-by-std\n"
               "  alft trainer-check --pair kl-K8-jackknife-aqp --seeds 4\n"
               "  alft trainer-check --all --profile full --out reports/trainer_check")
    p.add_argument("--game", choices=sorted(GAMES), default="euclidean", help="the game (default: euclidean)")
    p.add_argument("--K", type=int, default=4, help="group size = the trainer's num_generations (default: 4)")
    p.add_argument("--method", default="ustat", help="estimator table method (default: ustat)")
    p.add_argument("--eps", type=float, help="aqp: bias budget (default: none)")
    p.add_argument("--solve", action="store_true", help="aqp: solve the table (needed for advantage rloo; default: "
                                                        "load a shipped table)")
    p.add_argument("--advantage", choices=list(TABLE_ADVANTAGES), default="rloo",
                   help="the advantage the table is built for: rloo (corrected for the trainer's group mean) or "
                        "decoupled (the plain table) (default: rloo)")
    p.add_argument("--scale-rewards", choices=sorted(SCALE_REWARDS), default="none",
                   help="TRL's GRPOConfig.scale_rewards: none and batch are the rloo advantage, group the group-std "
                        "one (default: none)")
    p.add_argument("--engine", choices=["trl", "verl"], default="trl", help="TRL's GRPOTrainer, or verl's advantage "
                                                                            "and loss code (default: trl)")
    p.add_argument("--adv-estimator", default="rloo", help="verl: algorithm.adv_estimator, one of grpo, rloo, "
                                                           "reinforce_plus_plus_baseline (default: rloo)")
    p.add_argument("--no-norm-adv-by-std", action="store_true", help="verl GRPO: norm_adv_by_std_in_grpo=False "
                                                                     "(default: True)")
    p.add_argument("--num-generations", type=int, help="the trainer's group size; must equal K (default: K)")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=f"runs, 2..1000 (default: {DEFAULT_SEEDS})")
    p.add_argument("--steps", type=int, help=f"optimizer steps per run (default: {DEFAULT_STEPS})")
    p.add_argument("--groups", type=int, help="groups of K per step (default: 512 // K)")
    p.add_argument("--last", type=int, help="readings averaged per run (default: the last third)")
    p.add_argument("--lr", type=float, help="peak learning rate, decayed linearly to 0 (default: 0.01)")
    p.add_argument("--lr-scheduler", help="TRL lr_scheduler_type (default: linear)")
    p.add_argument("--kl-beta", type=float, help="TRL GRPOConfig.beta, KL to the reference model (default: 0)")
    p.add_argument("--max-grad-norm", type=float, help="gradient clipping (default: 1)")
    p.add_argument("--weight-decay", type=float, help="TRL AdamW weight decay (default: 0)")
    p.add_argument("--epsilon", type=float, help="ratio clip (default: 0.2)")
    p.add_argument("--num-iterations", type=int, help="TRL updates per generation batch (default: 1)")
    p.add_argument("--answer-tokens", type=int, help="answer letters in the model's vocabulary, 2..26 and >= the "
                                                     "game's answers (default: max(8, answers))")
    p.add_argument("--all", action="store_true", help="run every pair of the profile (and, full, the settings "
                                                      "sweep) (default: one case)")
    p.add_argument("--profile", choices=list(PROFILES), default="quick", help="--all: quick or full (default: quick)")
    p.add_argument("--pair", choices=[q.name for q in PAIRS], help="run one pair (default: none)")
    p.add_argument("--sweep", action="store_true", help="run the TRL settings sweep, alone or with --all (default: "
                                                        "with --all --profile full only)")
    p.add_argument("--format", choices=["json", "text"], default="text", help="standard output (default: text)")
    p.add_argument("--out", help="a file for one case or pair; a folder for --all and --sweep, new, empty or "
                                 "written by alft trainer-check (default: none; reports/trainer_check for a suite)")
    p.set_defaults(func=_cmd)


def _require(engine: str) -> None:
    for mod in (("trl", "datasets") if engine == "trl" else ("verl",)):
        if importlib.util.find_spec(mod) is None:
            raise ValueError(f"alft trainer-check --engine {engine} needs {mod} (the integration extra: pip install "
                             f"-e '.[integration]', which pins trl 1.16.0 and verl 0.9.1)")


def _overrides(args, engine: str) -> dict:
    names = {"steps": "steps", "groups": "groups", "lr": "learning_rate", "max_grad_norm": "max_grad_norm"}
    if engine == "trl":
        names.update({"lr_scheduler": "lr_scheduler_type", "kl_beta": "kl_beta", "weight_decay": "weight_decay",
                      "epsilon": "epsilon", "num_iterations": "num_iterations"})
    else:
        names.update({"epsilon": "clip_ratio"})
        bad = [f"--{a.replace('_', '-')}" for a in ("lr_scheduler", "kl_beta", "weight_decay", "num_iterations")
               if getattr(args, a) is not None]
        if bad:
            raise ValueError(f"{', '.join(bad)} apply to --engine trl only")
    return {k: getattr(args, a) for a, k in names.items() if getattr(args, a) is not None}


def _single(args):
    from .cases import default_settings
    from .check import run_case
    from .predict import Case

    params = {}
    if args.eps is not None:
        params["eps"] = args.eps
    if args.solve:
        params["solve"] = True
    case = Case(args.game, args.method, args.K, args.advantage, tuple(sorted(params.items())))
    over = _overrides(args, args.engine)
    if args.engine == "trl":
        over["scale_rewards"] = args.scale_rewards
    else:
        over.update(adv_estimator=args.adv_estimator, norm_adv_by_std_in_grpo=not args.no_norm_adv_by_std)
    settings = default_settings(args.K, args.engine, **over)
    return run_case(case, settings, engine=args.engine, seeds=args.seeds, last=args.last,
                    answer_tokens=args.answer_tokens, num_generations=args.num_generations)


def _text(doc: dict) -> str:
    if "pairs" in doc or "sides" in doc:
        from .suite import markdown
        return markdown(doc if "pairs" in doc else {"title": "The game predicts the trainer", "profile": "one pair",
                                                      "pairs": [doc], "settings_sweep": []})
    t, o = doc["trained"], doc["tv_trained_to_predicted"]
    rows = [f"{doc['label']}, {doc['engine']} {doc['advantage']} advantage, {doc['seeds']} seeds x {doc['steps']} "
            f"steps x {doc['completions_per_step']} completions ({doc['seconds']:.1f} s, "
            f"{doc['steps_per_second']:.1f} steps/s)", "answer  predicted  trained  [interval]  p*"]
    for z in range(len(doc["predicted"])):
        rows.append(f"{z:6d}  {doc['predicted'][z]:.4f}     {t['mean'][z]:.4f}   [{t['lower'][z]:.4f}, "
                    f"{t['upper'][z]:.4f}]  {doc['p_star'][z]:.4f}")
    rows += [f"TV(trained, predicted) = {o['tv']:.4f} [{o['tv_lower']:.4f}, {o['tv_upper']:.4f}]; predicted point "
             f"{'inside' if o['inside'] else 'OUTSIDE'} the {t['level']:.0%} box; TV(predicted, p*) = "
             f"{doc['tv_predicted_to_p_star']:.4f}", f"sampling check p = {doc['sampling_check']['p_value']:.3g}"]
    return "\n".join(rows) + "\n"


def jsonable(x):
    """JSON-safe copy: numpy scalars and arrays as numbers and lists, non-finite floats as strings."""
    import math
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist") and callable(x.tolist):
        return jsonable(x.tolist())
    return x


def _cmd(args) -> int:
    from estimators.outputs import check_output_dir, check_output_file, output_dir, write_output_file

    from .cases import get_pair

    if args.all and args.pair:
        raise ValueError("give --all or --pair, not both")
    if args.sweep and args.pair:
        raise ValueError("give --sweep or --pair, not both")
    suite = args.all or args.sweep
    engines = {"trl", "verl"} if args.all else {"trl"} if args.sweep else {
        get_pair(args.pair).engine if args.pair else args.engine}
    for engine in sorted(engines):
        _require(engine)
    if suite:  # the output rule: a new, empty or own folder, checked before any run
        out_dir = check_output_dir(args.out or DEFAULT_OUT, TRAINER_CHECK_DIR)
    elif args.out is not None:
        check_output_file(args.out)
    if suite:
        from .suite import run_all
        with output_dir(out_dir, TRAINER_CHECK_DIR) as staged:  # progress is written into the staged folder
            doc = run_all(args.profile, seeds=args.seeds, steps=args.steps, pairs=args.all,
                          sweep=True if args.sweep else None, checkpoint=lambda d: _write_suite(staged.tmp, d))
        print(f"wrote {staged.out / 'trainer_check.json'} and {staged.out / 'trainer_check.md'}", file=sys.stderr)
    elif args.pair:
        from .suite import run_pair
        doc = run_pair(get_pair(args.pair), seeds=args.seeds, steps=args.steps)
    else:
        doc = _single(args)
    doc = jsonable(doc)
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n" if args.format == "json" else _text(doc)
    if args.out is not None and not suite:
        write_output_file(args.out, text)
    sys.stdout.write(text)
    ok = doc.get("agrees", True) and all("error" not in s for s in doc.get("settings_sweep", []))
    return 0 if ok or not (suite or args.pair) else 1


def _write_suite(folder: Path, doc: dict) -> None:
    from estimators._io import atomic_write_text

    from .suite import markdown
    doc = jsonable(doc)
    atomic_write_text(folder / "trainer_check.json", json.dumps(doc, indent=1, allow_nan=False) + "\n", mkdir=False)
    atomic_write_text(folder / "trainer_check.md", markdown(doc), mkdir=False)
