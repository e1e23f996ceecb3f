"""``alft crosscheck``: conformance of a group-reward kernel against the reference (claim C8).

A test harness, next to its command line: :mod:`.harness` (the cases, hypothesis-generated inputs and the
report), :mod:`.isolation` (the kernel in a process of its own), :mod:`.kernels` (the project's kernels under
the crosscheck contract), :mod:`.cli` (the parser; it imports neither torch nor hypothesis). The library
(:mod:`estimators`) needs neither hypothesis nor this package.
"""
