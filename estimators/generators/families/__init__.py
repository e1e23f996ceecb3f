"""The generator families: one module each, named as the generator (``kl.py`` is ``"kl"``).

Each module defines ``build(**params)`` and its :class:`~estimators.generators.base.Generator` subclass with
the hooks of every arithmetic; docs/generators.md says how to add one.
"""
