"""The certified arithmetic: everything whose numbers are proved, not estimated.

* :mod:`.bernstein` -- the mean B_g(p) as a polynomial: exact conversions between the Bernstein and monomial
  bases, and its evaluation in Arb ball arithmetic;
* :mod:`.supnorm` -- certified brackets on a table's sup weighted bias (C2);
* :mod:`.advantages` -- what a trainer's baseline does to a table (the effective table) and the table that
  undoes it (C9).

Nothing here is imported by ``import estimators`` beyond what the methods need; Arb (python-flint) and scipy
are imported where they are used.
"""
