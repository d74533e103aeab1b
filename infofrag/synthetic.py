"""Nine synthetic probabilistic representation spaces, and centred kernel alignment (CKA).

The paper's section 4.1 (arXiv:2405.21042) compares nine synthetic representation spaces of
the same N = 64 data points: round spirals at three noise settings, two square spirals, a line,
two discrete clusterings and an overlapping one. The paper's exact constructions are not
reproduced here; these spaces follow that description, and every one is written down below so
that the numbers of ``benchmarks/synthetic_spaces.py`` (and ``docs/replication.md``) can be
reproduced and checked.

The data. Each of the N data points has one hidden coordinate, a position ``t_i`` drawn
uniformly from [0, 1) with ``numpy.random.default_rng(seed)``; nothing else is random. Every
space is a diagonal-Gaussian posterior per point, ``q(u | x_i) = N(mu_i, sigma^2 I)``: the means
lie exactly on the space's shape (no jitter), and the posterior width ``sigma`` is one number
per space -- the "noise setting". Writing ``theta = 4 pi t`` (two turns):

=======================  ===  =====================================================  =======
space                    d    means mu_i                                             sigma
=======================  ===  =====================================================  =======
``spiral_sharp``         2    round spiral ``r (cos theta, sin theta)``,             0.02
                              ``r = 0.25 + 0.75 t``
``spiral_mid``           2    the same round spiral                                  0.08
``spiral_blurred``       2    the same round spiral                                  0.25
``square_spiral``        2    rectangular spiral, 2 turns, arc length ~ t            0.05
``square_spiral_tight``  2    rectangular spiral, 3 turns, arc length ~ t            0.05
``line``                 1    ``2 t - 1``                                            0.05
``clusters_quartile``    2    corner ``c_k`` of the square (+-1, +-1), visited in    0.05
                              order, for the quartile k = rank(t_i) // (N/4) of t
``clusters_side``        1    ``+1`` if ``cos theta > 0`` else ``-1`` (the side of   0.05
                              the y axis the round spiral's point lies on)
``clusters_overlap``     2    the means of ``clusters_quartile``                     1.0
=======================  ===  =====================================================  =======

The rectangular spirals start at the origin and walk segments of lengths 1, 1, 2, 2, 3, 3, ...
turning left each time (east, north, west, south, ...), 4 segments per turn; point i sits at
arc length ``t_i`` times the total length, and the curve is scaled by ``1 / (number of turns)``
so that, like the round spiral, it spans about [-1, 1]. The clusterings' sigma = 0.05 against a
centre spacing of 2 makes them hard clusterings (Bhattacharyya distance 200 between clusters,
0 within): ``clusters_quartile`` carries exactly 2 bits (four clusters of N/4 points each),
``clusters_side`` about 1 bit. ``clusters_overlap`` is the same quartile clustering with
posteriors as wide as half the centre spacing, a soft clustering.

What the spaces share: all of them are functions of ``t`` alone. The spirals and the line
resolve ``t`` at different resolutions (the spirals also confuse points on neighbouring turns
when sigma is comparable with the turn spacing: 0.375 for the round spiral, 1 / turns for the
rectangular ones); the quartile clusterings know only which quarter ``t`` lies in; the side
clustering knows the phase of ``t`` on the spiral, a non-monotonic function of ``t`` that a
space has to resolve finely to share.

CKA. :func:`linear_cka` compares the means of two spaces (Kornblith et al. 2019, linear
kernel); :func:`kernel_cka` compares two N x N kernel matrices, here the Bhattacharyya
coefficient matrices ``exp(-D)`` of the fingerprints (positive semi-definite: each coefficient
is an inner product of square-rooted densities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "N_POINTS",
    "SPACE_NAMES",
    "Space",
    "synthetic_spaces",
    "positions",
    "square_spiral",
    "linear_cka",
    "kernel_cka",
]

N_POINTS = 64

SPACE_NAMES = (
    "spiral_sharp",
    "spiral_mid",
    "spiral_blurred",
    "square_spiral",
    "square_spiral_tight",
    "line",
    "clusters_quartile",
    "clusters_side",
    "clusters_overlap",
)

# (shape, posterior width sigma, one-line description for tables)
_SPECS = {
    "spiral_sharp": ("round", 0.02, "round spiral, 2 turns"),
    "spiral_mid": ("round", 0.08, "round spiral, 2 turns"),
    "spiral_blurred": ("round", 0.25, "round spiral, 2 turns"),
    "square_spiral": ("square2", 0.05, "rectangular spiral, 2 turns"),
    "square_spiral_tight": ("square3", 0.05, "rectangular spiral, 3 turns"),
    "line": ("line", 0.05, "line 2t - 1"),
    "clusters_quartile": ("quartile", 0.05, "4 hard clusters: quartile of t"),
    "clusters_side": ("side", 0.05, "2 hard clusters: sign of cos(4 pi t)"),
    "clusters_overlap": ("quartile", 1.0, "4 overlapping clusters: quartile of t"),
}

_CORNERS = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


@dataclass(frozen=True)
class Space:
    """One synthetic space: posterior means ``mu`` [N, d], log-variances ``logvar`` [N, d]
    (all ``2 log sigma``), its name, width ``sigma`` and a short description."""

    name: str
    mu: np.ndarray
    logvar: np.ndarray
    sigma: float
    description: str

    @property
    def dim(self) -> int:
        return int(self.mu.shape[1])


def positions(n_points: int = N_POINTS, seed: int = 0) -> np.ndarray:
    """The hidden positions ``t`` [n_points] of the data points, uniform on [0, 1)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=n_points)


def square_spiral(t, turns: int) -> np.ndarray:
    """Points [len(t), 2] at arc-length fraction ``t`` along a rectangular spiral of ``turns``
    turns (segments 1, 1, 2, 2, ... from the origin, turning left), scaled by ``1 / turns``."""
    t = np.asarray(t, dtype=np.float64)
    n_seg = 4 * turns
    lengths = np.array([k // 2 + 1 for k in range(n_seg)], dtype=np.float64)
    dirs = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    vertices = np.zeros((n_seg + 1, 2))
    for k in range(n_seg):
        vertices[k + 1] = vertices[k] + lengths[k] * dirs[k % 4]
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    s = t * cum[-1]
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, n_seg - 1)
    pts = vertices[k] + (s - cum[k])[:, None] * dirs[k % 4]
    return pts / turns


def _means(shape: str, t: np.ndarray) -> np.ndarray:
    theta = 4.0 * np.pi * t
    if shape == "round":
        r = 0.25 + 0.75 * t
        return np.stack([r * np.cos(theta), r * np.sin(theta)], 1)
    if shape == "square2":
        return square_spiral(t, 2)
    if shape == "square3":
        return square_spiral(t, 3)
    if shape == "line":
        return (2.0 * t - 1.0)[:, None]
    if shape == "quartile":
        n = t.shape[0]
        rank = np.argsort(np.argsort(t, kind="stable"), kind="stable")
        return _CORNERS[(4 * rank) // n]
    if shape == "side":
        return np.where(np.cos(theta) > 0.0, 1.0, -1.0)[:, None]
    raise ValueError(f"unknown shape {shape!r}")


def synthetic_spaces(n_points: int = N_POINTS, seed: int = 0) -> dict[str, Space]:
    """The nine spaces (module docstring) over ``n_points`` data points, in ``SPACE_NAMES`` order.

    Deterministic: the same ``(n_points, seed)`` give bit-identical arrays. ``n_points`` must
    be a multiple of 4 (equal quartile clusters) and at least 8.
    """
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 8 or n_points % 4:
        raise ValueError(f"n_points must be an integer multiple of 4, at least 8; got {n_points!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    t = positions(int(n_points), int(seed))
    out = {}
    for name in SPACE_NAMES:
        shape, sigma, desc = _SPECS[name]
        mu = _means(shape, t)
        out[name] = Space(name, mu, np.full(mu.shape, 2.0 * np.log(sigma)), sigma, desc)
    return out


def _centred_gram(K: np.ndarray) -> np.ndarray:
    K = np.asarray(K, dtype=np.float64)
    return K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()


def kernel_cka(K: np.ndarray, L: np.ndarray) -> float:
    """CKA of two N x N kernel (Gram) matrices: ``<HKH, HLH>_F / (||HKH||_F ||HLH||_F)`` with
    ``H`` the centring matrix. 1 for proportional kernels; in [0, 1] for PSD kernels."""
    K = np.asarray(K, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or L.shape != K.shape:
        raise ValueError(f"K and L must be N x N of the same N, got {K.shape} and {L.shape}")
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(L))):
        raise ValueError("K and L must be finite")
    Kc, Lc = _centred_gram(K), _centred_gram(L)
    nk, nl = np.linalg.norm(Kc), np.linalg.norm(Lc)
    if nk == 0.0 or nl == 0.0:
        raise ValueError("a kernel matrix is constant after centring (CKA undefined)")
    return float(np.sum(Kc * Lc) / (nk * nl))


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of two representations ``X`` [N, p] and ``Y`` [N, q] of the same N points:
    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc``, ``Yc``
    (the kernel CKA of ``X X^T`` and ``Y Y^T``, computed in feature space).

    Invariant to orthogonal transformations, isotropic scaling and translation of either
    representation; 1 for a representation against itself. ``[N]`` is read as ``[N, 1]``.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    Y = Y[:, None] if Y.ndim == 1 else Y
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must be [N, p] and [N, q] over the same N, got {X.shape} and {Y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("X and Y must be finite")
    Xc = X - X.mean(0)
    Yc = Y - Y.mean(0)
    nx = np.linalg.norm(Xc.T @ Xc)
    ny = np.linalg.norm(Yc.T @ Yc)
    if nx == 0.0 or ny == 0.0:
        raise ValueError("a representation is constant over the points (CKA undefined)")
    return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (nx * ny))
