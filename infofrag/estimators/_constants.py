"""Constants shared by the estimators (one definition each, so the paths cannot disagree)."""

import math

LN2 = math.log(2.0)

#: Channels whose H = 2 I(U;X) - I(U;U') is at most this many bits are treated as carrying no
#: information by :func:`similarity` (see its docstring). For a Gaussian channel H is roughly
#: I(U;X)^2, so this is a channel with I(U;X) below about 1e-4 bits.
DEFAULT_MIN_BITS = 1e-8

#: Largest accepted |D_ii|: the distance of a posterior to itself is 0 by definition.
DIAGONAL_TOL = 1e-6

#: Default bound (bytes) on the temporary memory of one call.
DEFAULT_MAX_MEMORY = 1 * 2**30

#: Rows whose mean coefficient exceeds this are centred (computed from C - 1, see ``_coefficients``).
CENTRE_ABOVE = 0.8
