"""What a trainer's baseline does to a table, and the table that undoes it (claim C9).

The transform lives with the certified arithmetic (:mod:`estimators.certified.advantages`, which documents it);
its public names are importable from here too.
"""
from .certified.advantages import (ADVANTAGES, DEFAULT_ADVANTAGE, EXACT_SETTINGS, check_advantage,  # noqa: F401
                                   correct_for, corrected_fields, effective_coefficients, effective_table, elevate,
                                   lower_degree, refuse_grpo, restate_certificate)

__all__ = ["ADVANTAGES", "DEFAULT_ADVANTAGE", "EXACT_SETTINGS", "check_advantage", "refuse_grpo",
           "effective_coefficients", "lower_degree", "elevate", "effective_table", "correct_for",
           "corrected_fields", "restate_certificate"]
