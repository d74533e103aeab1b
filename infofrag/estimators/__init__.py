"""Fingerprints, information, and generalised NMI / VI between soft clusterings.

The method (arXiv:2405.21042; see ``docs/method.md``): a channel U is fingerprinted on a fixed
sample of N data points by the N x N matrix ``D`` of Bhattacharyya distances between the
posteriors of the sample points; ``C = exp(-D)`` are the Bhattacharyya coefficients. With the
sample uniform over its N points (all results in bits)::

    I(U;X)   = -mean_i log2 mean_j C_ij
    I(U;U')  = -mean_i log2 mean_j C_ij^2
    I(UV;X)  = -mean_i log2 mean_j C^U_ij C^V_ij
    NMI(U,V) = (I_U + I_V - I_UV) / sqrt((2 I_U - I_UU) (2 I_V - I_VV))
    VI(U,V)  = 2 I_UV - I_UU - I_VV

How it is computed (and why it is accurate). For each sample row i and channel U, with
``m_i = mean_j C_ij``, let ``X_ij = (C_ij - r_i) / (sqrt(N) m_i)`` and ``a_i = sqrt(N) mean_j X_ij``,
where the reference ``r_i`` is ``m_i`` (the row is centred) for nearly constant rows
(``m_i > 0.8``, as in weak channels) and 0 otherwise. Then, exactly,
``mean_j C^U_ij C^V_ij / (m^U_i m^V_i) = 1 + G_i[U, V]`` with ``G_i = X_i X_i^T - a_i a_i^T``,
so::

    I_U + I_V - I_UV = mean_i log2(1 + G_i[U, V])        (the NMI numerator, I(U;V))
    H_U := 2 I_U - I_UU = mean_i log2(1 + G_i[U, U])     (the NMI denominator terms)
    VI(U, V)         = H_U + H_V - 2 (I_U + I_V - I_UV)

Nothing is obtained as a difference of large, nearly equal informations. For weak channels G is
tiny and comes from tiny centred values, computed from ``C - 1 = expm1(-D)`` (C near 1 itself
has only float32's absolute precision), and ``log m = log1p(mean_j (C_ij - 1))`` with the mean in
float64, so float32 Gram products and informations keep their relative precision; rows of
informative channels (mostly ``C ~ 0``) stay uncentred, which keeps their sums free of the
rounding drift of many equal addends. ``log1p`` is taken per element and the sums over rows are
accumulated in float64. Distances are capped at ~38 (float32) before ``exp``: coefficients below
exp(-38) change nothing measurable, and subnormal numbers would slow the CPU arithmetic down a
hundredfold.

Precision notes: float32 matmuls must run in full float32 -- with
``torch.set_float32_matmul_precision("medium"/"high")`` or TF32 enabled on CUDA, pass
``dtype=float64``. Results are float64.

Conventions: numpy in -> numpy out; torch in -> torch out, on the input's device, and
differentiable (autograd) when an input requires grad. Numpy input is computed with torch on
CUDA when available, else on the CPU (``device=`` overrides). Information results are float64.
Invalid input raises ``ValueError`` naming the argument and the problem.

Layout: ``_bhattacharyya`` (fingerprints, hard clusterings), ``_information`` (I(U;X)),
``_similarity`` (NMI, VI and their terms), computed by ``_fast`` (threaded, no grad) or
``_autograd`` (differentiable) from the row chunks of ``_coefficients``; ``_checks`` validates
the input. Import from this package, not from those modules.
"""

from ._bhattacharyya import bhattacharyya, labels_to_distances
from ..measures import DEFAULT_MIN_BITS, DIAGONAL_TOL
from ._information import information
from ._similarity import SimilarityTerms, similarity, similarity_terms
from ._sources import PosteriorChannels, PosteriorSpaces

__all__ = [
    "PosteriorChannels",
    "PosteriorSpaces",
    "SimilarityTerms",
    "bhattacharyya",
    "information",
    "labels_to_distances",
    "similarity",
    "similarity_terms",
    "DEFAULT_MIN_BITS",
    "DIAGONAL_TOL",
]
