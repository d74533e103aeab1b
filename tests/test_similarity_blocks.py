"""infofrag.similarity for more channels than one block of the kernel (128), against a slow,
obvious float64 computation pair by pair (the formulas of docs/method.md).

The fast path cuts the channels into blocks of at most 128 and computes the Gram products of
the upper block-triangle only (symmetric case) or of every block against all of D_b (two
stacks), then mirrors and unpacks them; with up to 128 channels (every other test) there is one
block and none of that bookkeeping is exercised. Here: M = 260 (three blocks of 87, 87, 86) in
the symmetric case, 140 x 170 (two blocks of 70 against 170 columns) in the two-stack case, with
channel copies and a collapsed channel placed in different blocks.

Precision asked for: float64 fingerprints to 1e-10 (the float64 path is exact up to rounding);
float32 fingerprints, as the workflow stores them, to what the module docstrings promise: NMI
within ~1e-6 of the float64 computation (channels above the resolution floor), VI and the information
terms to float32's relative precision (1e-6 relative, 1e-6 bits absolute).
"""

import math

import numpy as np
import pytest
import torch

import infofrag
from infofrag.measures import resolution_bits

torch.set_num_threads(1)

N = 40


def make_channels(M, seed):
    """1-D Gaussian posteriors of M channels on N points, from weak (~0.01 bits) to sharp (~4 bits)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(N, 3))
    sigmas = np.geomspace(0.03, 8.0, M)
    rng.shuffle(sigmas)
    mu = np.stack([np.tanh(x @ rng.normal(size=3)) * 2 for _ in range(M)])
    lv = np.log(sigmas[:, None] ** 2) + 0.3 * rng.normal(size=(M, N)) / (1 + sigmas[:, None])
    return mu[:, :, None], lv[:, :, None]


def fingerprints(M, seed, copies=(), collapsed=()):
    """Fingerprints [M, N, N] (float64); ``copies`` (i, j): channel j a copy of channel i;
    ``collapsed``: channels that tell no points apart (D = 0)."""
    mu, lv = make_channels(M, seed)
    for i, j in copies:
        mu[j], lv[j] = mu[i], lv[i]
    D = np.asarray(infofrag.bhattacharyya(mu, lv), dtype=np.float64)
    for k in collapsed:
        D[k] = 0.0
    return D


# ------------------------------------------------------------------ the reference, pair by pair


def info_ref(d, power=1.0):
    """-mean_i log2 mean_j C_ij^power."""
    return -np.mean(np.log2(np.mean(np.exp(-power * d), axis=1)))


def joint_ref(da, db):
    """-mean_i log2 mean_j C^a_ij C^b_ij."""
    return -np.mean(np.log2(np.mean(np.exp(-da) * np.exp(-db), axis=1)))


def reference(Da, Db):
    """I(U;X), I(UU';X) of each channel and I(UV;X), NMI, VI of each pair, in float64."""
    Da, Db = np.asarray(Da, np.float64), np.asarray(Db, np.float64)
    ia = np.array([info_ref(d) for d in Da])
    iaa = np.array([info_ref(d, 2.0) for d in Da])
    ib = np.array([info_ref(d) for d in Db])
    ibb = np.array([info_ref(d, 2.0) for d in Db])
    sym = Da.shape == Db.shape and np.array_equal(Da, Db)
    iab = np.empty((len(Da), len(Db)))
    for a in range(len(Da)):
        for b in range(a if sym else 0, len(Db)):
            iab[a, b] = joint_ref(Da[a], Db[b])
            if sym:
                iab[b, a] = iab[a, b]
    ha, hb = 2 * ia - iaa, 2 * ib - ibb
    shared = ia[:, None] + ib[None, :] - iab
    nmi = shared / np.sqrt(np.maximum(ha[:, None] * hb[None, :], 1e-300))
    vi = 2 * iab - iaa[:, None] - ibb[None, :]
    return dict(i_a=ia, i_aa=iaa, i_b=ib, i_bb=ibb, i_ab=iab, h_a=ha, h_b=hb, shared=shared, nmi=nmi, vi=vi)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]

# symmetric case: copies across the three blocks [0, 87), [87, 174), [174, 260), one within the
# last block, and a collapsed channel in the middle block
M_SYM = 260
COPIES_SYM = [(5, 100), (3, 250), (120, 200), (180, 259)]
COLLAPSED_SYM = [150]


@pytest.fixture(scope="module")
def sym_case():
    D = fingerprints(M_SYM, seed=11, copies=COPIES_SYM, collapsed=COLLAPSED_SYM)
    return D, reference(D, D)


@pytest.fixture(scope="module")
def two_stack_case():
    D = fingerprints(310, seed=12, copies=[(7, 140 + 3), (130, 140 + 160)], collapsed=[100, 140 + 50])
    Da, Db = D[:140], D[140:]
    return Da, Db, reference(Da, Db)


def test_the_cases_span_several_blocks_and_a_range_of_information(sym_case, two_stack_case):
    from infofrag.estimators._fast import _BLOCK, _blocks

    assert _BLOCK == 128
    blocks = _blocks(M_SYM)
    assert len(blocks) >= 3 and len(_blocks(140)) >= 2
    where = lambda k: next(n for n, (p0, p1) in enumerate(blocks) if p0 <= k < p1)  # noqa: E731
    assert {where(i) != where(j) for i, j in COPIES_SYM} == {True, False}  # across and within
    assert len({where(i) for pair in COPIES_SYM for i in pair} | {where(COLLAPSED_SYM[0])}) == len(blocks)
    _, ref = sym_case
    info = ref["i_a"]
    live = np.ones(M_SYM, bool)
    live[COLLAPSED_SYM] = False
    assert info[live].min() < 0.05 and info.max() > 3.0
    assert info[COLLAPSED_SYM] == pytest.approx(0.0, abs=1e-15)


def informative(info):
    """Channels above the resolution floor h2(1/N) (0.17 bits at N = 40): below it a channel
    counts as carrying no information, and NMI takes the classic convention (0 against an
    informative channel, 1 between two empty ones)."""
    return info > resolution_bits(N)


@pytest.mark.parametrize("device", DEVICES)
def test_symmetric_many_blocks_float64(sym_case, device):
    D, ref = sym_case
    nmi, vi, t = infofrag.similarity(D, device=device, return_terms=True)
    assert nmi.shape == vi.shape == (M_SYM, M_SYM)
    ok = informative(ref["i_a"])[:, None] & informative(ref["i_a"])[None, :]
    np.fill_diagonal(ok, False)
    np.testing.assert_allclose(nmi[ok], ref["nmi"][ok], rtol=0, atol=1e-10)
    np.testing.assert_allclose(vi, np.maximum(np.where(np.eye(M_SYM, dtype=bool), 0.0, ref["vi"]), 0.0),
                               rtol=0, atol=1e-10)
    for name in ("i_a", "i_aa", "i_ab", "h_a", "shared"):
        np.testing.assert_allclose(getattr(t, name), ref[name], rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_array_equal(nmi, nmi.T)
    np.testing.assert_array_equal(vi, vi.T)
    # below the floor, the convention: 0 against an informative channel, 1 between two empty ones
    live = informative(ref["i_a"])
    assert (~live).sum() >= 10 and (nmi[~live][:, live] == 0.0).all() and (nmi[~live][:, ~live] == 1.0).all()
    # copies across blocks: the same information, NMI 1, VI 0
    for i, j in COPIES_SYM:
        assert nmi[i, j] == pytest.approx(1.0, abs=1e-10) and vi[i, j] == pytest.approx(0.0, abs=1e-10)
        np.testing.assert_allclose(nmi[i], nmi[j], atol=1e-10)
    # the collapsed channel: NMI 0 with every informative channel, 1 with itself and other empty ones
    (c,) = COLLAPSED_SYM
    assert (nmi[c, live] == 0.0).all() and (nmi[c, ~live] == 1.0).all() and not live[c]


@pytest.mark.parametrize("device", DEVICES)
def test_symmetric_many_blocks_float32_fingerprints(sym_case, device):
    """As the workflow stores them: float32 fingerprints, float32 products, float64 sums."""
    D, _ = sym_case
    D32 = D.astype(np.float32)
    ref = reference(D32, D32)  # the float64 computation on the same (float32) numbers
    nmi, vi, t = infofrag.similarity(D32, device=device, return_terms=True)
    ok = informative(ref["i_a"])[:, None] & informative(ref["i_a"])[None, :]
    np.fill_diagonal(ok, False)
    assert np.abs(nmi - ref["nmi"])[ok].max() < 1e-6
    np.fill_diagonal(ref["vi"], 0.0)
    np.testing.assert_allclose(vi, np.maximum(ref["vi"], 0.0), rtol=1e-6, atol=1e-6)
    for name in ("i_a", "i_aa", "i_ab", "h_a", "shared"):
        np.testing.assert_allclose(getattr(t, name), ref[name], rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_stacks_many_blocks(two_stack_case, device, dtype):
    Da, Db, ref = two_stack_case
    # float32: float32's relative precision (bits of VI and information terms up to ~8)
    tol, rtol = (1e-10, 0.0) if dtype == np.float64 else (1e-6, 1e-6)
    if dtype == np.float32:
        Da, Db = Da.astype(np.float32), Db.astype(np.float32)
        ref = reference(Da, Db)
    nmi, vi, t = infofrag.similarity(Da, Db, device=device, return_terms=True)
    assert nmi.shape == vi.shape == (140, 170)
    ok = informative(ref["i_a"])[:, None] & informative(ref["i_b"])[None, :]
    assert np.abs(nmi - ref["nmi"])[ok].max() < tol
    np.testing.assert_allclose(vi, np.maximum(ref["vi"], 0.0), rtol=rtol, atol=tol)
    for name in ("i_a", "i_aa", "i_b", "i_bb", "i_ab", "h_a", "h_b", "shared"):
        np.testing.assert_allclose(getattr(t, name), ref[name], rtol=rtol, atol=tol, err_msg=name)
    assert nmi[7, 3] == pytest.approx(1.0, abs=tol) and nmi[130, 160] == pytest.approx(1.0, abs=tol)
    # a collapsed channel on either side: NMI 0 against the informative ones, 1 between the two
    assert nmi[100, 50] == 1.0
    assert (np.delete(nmi[100], 50)[informative(np.delete(ref["i_b"], 50))] == 0.0).all()
    assert (np.delete(nmi[:, 50], 100)[informative(np.delete(ref["i_a"], 100))] == 0.0).all()


def test_blocks_agree_with_each_block_alone(sym_case):
    """The M x M result restricted to two channel sets equals the two-stack result of those
    sets alone (another way in, through the other layout), to float64 rounding."""
    D, _ = sym_case
    nmi, vi = infofrag.similarity(D)
    rows, cols = np.arange(0, M_SYM, 3), np.arange(1, M_SYM, 2)
    n2, v2 = infofrag.similarity(D[rows], D[cols])
    np.testing.assert_allclose(n2, nmi[np.ix_(rows, cols)], rtol=0, atol=1e-11)
    np.testing.assert_allclose(v2, vi[np.ix_(rows, cols)], rtol=0, atol=1e-11)
    assert math.isfinite(float(np.abs(n2).max()))
