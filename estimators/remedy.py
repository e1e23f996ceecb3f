"""Errors that say how to fix them, in the words of the interface the user is in.

A library error that has a fix expressible as keyword arguments of :func:`estimators.build_table` carries it:
``exc.reason`` (what went wrong, without advice) and ``exc.remedy`` (the keyword arguments that fix it, e.g.
``{"solve": True}``). The message itself names the Python call (``build_table(..., solve=True)``); the
command line (``alft tables``) shows ``exc.reason`` and renders the remedy as its own options (``--solve``).
"""
from __future__ import annotations

__all__ = ["with_remedy"]


def with_remedy(exc: Exception, reason: str, **remedy) -> Exception:
    """``exc`` with ``reason`` and ``remedy`` attached (returned, so ``raise with_remedy(...)`` reads naturally)."""
    exc.reason = reason
    exc.remedy = dict(remedy)
    return exc
