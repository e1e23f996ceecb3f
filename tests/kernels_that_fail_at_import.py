"""A kernel module that raises at import: `alft crosscheck` must say so, not print a traceback (issue 16)."""
raise RuntimeError("this module fails at import on purpose")


def f(ids, table):  # pragma: no cover - never reached
    return table[ids]
