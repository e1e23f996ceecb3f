"""The game predicts the trainer (claim C9): a real TRL ``GRPOTrainer`` (and verl's advantage code) trains a tiny
random language model whose completion is one answer token, and its end point is compared with the alignment
game's exact fixed point for the same table and the same advantage.

Modules: :mod:`.tiny_model` (the model and reading its answer distribution), :mod:`.trl_runner` and
:mod:`.verl_runner` (one seed of training), :mod:`.predict` (the game's fixed point for a case), :mod:`.stats`
(intervals over seeds, verdicts), :mod:`.check` (one case), :mod:`.cases` and :mod:`.suite` (the pairs, the
settings sweep, the report section), :mod:`.cli` (``alft trainer-check``). Training needs the ``integration``
extra (trl, verl); importing this package does not.
"""
