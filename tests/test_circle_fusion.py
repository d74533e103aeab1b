"""infofrag.circle_fusion.continuity, pinned to values worked out by hand.

The embedding: 11 circle points, 1-D (or 2-D) Gaussian posteriors laid out along a line, so the
circle is torn open between the last and the first point. In angular order the gap in the mean
between point k-1 and point k is k (k = 1..10): the means are the triangular numbers 0, 1, 3, 6,
..., 55, and the wrap-around pair (point 10 back to point 0) is 55 apart. With unit variances the
Bhattacharyya distance of two posteriors is (mu_i - mu_j)^2 / 8, so the 11 neighbour distances are

    k^2 / 8  (k = 1..10)   and   55^2 / 8  (the wrap-around pair, the tear).

With 11 values the 90th percentile (linear interpolation, rank 0.9 * (11 - 1) = 9 counted from 0)
is exactly the second largest, 10^2 / 8, so the continuity is 55^2 / 10^2 = 30.25.

What plausible mistakes would give instead (each is asserted to differ):

* the wrap-around pair dropped: max 10^2/8 over the 10-value 90th percentile
  (rank 8.1: 9^2/8 + 0.1 (10^2 - 9^2)/8), i.e. 100 / 82.9;
* the median in place of the 90th percentile: 55^2 / 6^2 = 84.03;
* Euclidean distances of the means: 55 / 10 = 5.5;
* the second angular neighbour: pairs k -> k+2 are 2k+3 apart (k = 0..8), and the two pairs
  across the tear 45 (point 9 -> 0) and 54 (point 10 -> 1): 54^2 / 45^2 = 1.44.
"""

import math

import numpy as np
import pytest
import torch

from infofrag.circle_fusion import continuity

torch.set_num_threads(1)

N = 11
GAPS = np.arange(1, N)  # gap k between angular neighbours k-1 and k
MEANS = np.concatenate([[0.0], np.cumsum(GAPS)]).astype(float)  # 0, 1, 3, ..., 55
TEAR = MEANS[-1] - MEANS[0]  # 55: the wrap-around pair
EXPECTED = (TEAR**2 / 8) / (10**2 / 8)  # 30.25


def shuffled(values, angles, seed=0):
    """The same points listed in a scrambled order (continuity must sort them by angle)."""
    perm = np.random.default_rng(seed).permutation(len(angles))
    return [np.asarray(v)[perm] for v in values], np.asarray(angles)[perm]


def circle_angles():
    ang = 2 * np.pi * np.arange(N) / N
    # Angles are taken modulo 2 pi: the same circle described with some angles a turn off.
    ang = ang.copy()
    ang[3] += 2 * np.pi
    ang[10] -= 2 * np.pi
    return ang


def test_hand_values_are_what_the_docstring_describes():
    """The worked-out numbers of the module docstring (a check of the test, not of the code)."""
    assert EXPECTED == 30.25
    assert TEAR == 55
    # the alternatives really differ from 30.25
    assert not math.isclose(100 / 82.9, EXPECTED)
    assert not math.isclose(55**2 / 6**2, EXPECTED)
    assert not math.isclose(55 / 10, EXPECTED)
    assert not math.isclose(54**2 / 45**2, EXPECTED)


def test_torn_line_with_unequal_gaps():
    (mu, lv), ang = shuffled([MEANS[:, None], np.zeros((N, 1))], circle_angles())
    assert continuity(mu, lv, ang) == pytest.approx(30.25, rel=1e-12)
    # 1-D inputs are one dimension
    assert continuity(mu[:, 0], lv[:, 0], ang) == pytest.approx(30.25, rel=1e-12)


def test_scale_of_the_variances_enters_through_bhattacharyya():
    """Variance 4 everywhere: every distance is (dmu)^2 / 32, the ratio stays 30.25; with the
    means also doubled it stays 30.25 (the measure is invariant to a joint rescaling)."""
    (mu, lv), ang = shuffled([MEANS[:, None], np.full((N, 1), math.log(4.0))], circle_angles(), seed=1)
    assert continuity(mu, lv, ang) == pytest.approx(30.25, rel=1e-12)
    assert continuity(2 * mu, lv, ang) == pytest.approx(30.25, rel=1e-12)


def test_unequal_variances_in_a_second_dimension():
    """2-D posteriors: dimension 0 as above (unit variance); dimension 1 has mean 0 and variance
    1 and 4 alternating along the angular order (1 at even k). Each neighbour pair with unequal
    variances adds 1/2 [ln((1 + 4)/2) - (ln 1 + ln 4)/2] = 1/2 ln(5/4); pairs k-1 -> k for
    k = 1..10 all alternate, the wrap-around pair (k = 10, 0: both even) does not. So the
    distances are k^2/8 + ln(5/4)/2 and 55^2/8, and the continuity 55^2/8 / (100/8 + ln(5/4)/2).
    A Euclidean distance of the means would give 5.5; a Bhattacharyya distance without the
    variance term, 30.25."""
    c = 0.5 * math.log(5 / 4)
    expected = (55**2 / 8) / (100 / 8 + c)
    assert expected == pytest.approx(29.98238, abs=1e-5)
    var1 = np.where(np.arange(N) % 2 == 0, 1.0, 4.0)
    mu = np.stack([MEANS, np.zeros(N)], axis=1)
    lv = np.stack([np.zeros(N), np.log(var1)], axis=1)
    (mu, lv), ang = shuffled([mu, lv], circle_angles(), seed=2)
    assert continuity(mu, lv, ang) == pytest.approx(expected, rel=1e-12)


def test_a_seamless_circle_is_one():
    """Points equally spaced on a circle in 2-D, equal variances: every neighbour distance is
    the same, (2 sin(pi/N))^2 / 8 / s, so max / 90th percentile is exactly 1."""
    n = 24
    ang = 2 * np.pi * np.arange(n) / n
    mu = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    (mu,), ang = shuffled([mu], ang, seed=3)
    assert continuity(mu, np.full((n, 2), -4.0), ang) == pytest.approx(1.0, rel=1e-9)


def test_tear_of_only_a_few_pairs_is_inf_and_a_collapsed_embedding_nan():
    """30 points: 15 at mean 0, then 15 at mean 1 (in angular order). Only two of the 30
    neighbour pairs are apart (14 -> 15 and the wrap-around 29 -> 0), each 1/8; the 90th
    percentile (rank 26.1 of 0..29) is 0, so the continuity is inf. Dropping the wrap-around
    pair would leave the percentile at 0 and still give inf, but the first test catches that."""
    n = 30
    ang = 2 * np.pi * np.arange(n) / n
    mu = np.where(np.arange(n) < 15, 0.0, 1.0)[:, None]
    assert continuity(mu, np.zeros((n, 1)), ang) == math.inf
    assert math.isnan(continuity(np.zeros((n, 1)), np.zeros((n, 1)), ang))


@pytest.mark.parametrize("mu,lv,ang,match", [
    (np.zeros((5, 1)), np.zeros((5, 2)), np.zeros(5), "mu and logvar"),
    (np.zeros((5, 1)), np.zeros((5, 1)), np.zeros(4), "one angle per point"),
    (np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), "N >= 3"),
])
def test_bad_input(mu, lv, ang, match):
    with pytest.raises(ValueError, match=match):
        continuity(mu, lv, ang)
