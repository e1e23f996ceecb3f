"""The AQP certifier's name and version, and the causes a refusal can name (claim C6).

Light on purpose (no solver import): the shipped-set loader checks both without loading the solver."""

#: certifier name and version (cache key, certificate binding, shipped manifest): bump when the numerics change
#: (3: float64 rounding directed at the error's extrema, repairs by a first-order move along the budget)
AQP_VERSION = "aqp-3"

#: what a refusal can be attributed to (``AQPError.cause``, the shipped manifest's refusals):
#: ``float64_rounding``  the extended-precision optimum is certified, but no float64 rounding of it is within the
#:                       budget at the required optimality;
#: ``optimality_gap``    a table within the budget, but the certified optimality bracket is wider than required;
#: ``bias_repairs``      the table still exceeds the budget after the repairs, and not because of float64;
#: ``solver_failure``    the solver did not converge (the details name the error);
#: ``zero_budget``       E* = 0 (a polynomial target of degree <= K - 1): the budget is 0.
CAUSES = ("float64_rounding", "optimality_gap", "bias_repairs", "solver_failure", "zero_budget")
