"""A synthetic gathered similarity store with known hotspots, for the hotspot and figure tests."""

import numpy as np
import xarray as xr

# Synthetic ensemble: 6 members (3 at beta 1, 3 at beta 4), 4 channels each.
#   ch0: fragment A, learnt by every member (goes with factor "x")
#   ch1: fragment B at beta 4 (goes with factor "y"); a member-specific channel at beta 1
#   ch2: collapsed (no information)
#   ch3: a channel of its own in every member
MEMBERS = [f"m{i}" for i in range(6)]
BETAS = [1.0, 1.0, 1.0, 4.0, 4.0, 4.0]


def make_store(n_members=6, factors=("x", "y"), seed=0, equidistant=False):
    rng = np.random.default_rng(seed)
    member, beta, seed_c, channel, info, group = [], [], [], [], [], []
    for m in range(n_members):
        for c in range(4):
            member.append(f"m{m}")
            beta.append(BETAS[m % 6])
            seed_c.append(m)
            channel.append(c)
            if c == 0:
                g, i = "A", 2.0 + 0.1 * rng.standard_normal()
            elif c == 1 and BETAS[m % 6] == 4.0:
                g, i = "B", 1.0 + 0.05 * rng.standard_normal()
            elif c == 2:
                g, i = None, 0.002
            else:
                g, i = None, 1.5 + 0.2 * rng.standard_normal()
            group.append(g)
            info.append(i)
    M = len(member)
    same = np.array([[g is not None and g == h for h in group] for g in group])
    vi = np.where(same, 0.2 + 0.05 * rng.random((M, M)), 3.0 + 0.5 * rng.random((M, M)))
    nmi = np.where(same, 0.9 + 0.03 * rng.random((M, M)), 0.05 + 0.03 * rng.random((M, M)))
    if equidistant:
        vi, nmi = np.full((M, M), 3.0), np.full((M, M), 0.1)
    vi, nmi = 0.5 * (vi + vi.T), 0.5 * (nmi + nmi.T)
    np.fill_diagonal(vi, -1e-9)  # estimators leave tiny negative VI on the diagonal
    np.fill_diagonal(nmi, 1.0 + 1e-9)
    fnmi = np.full((M, len(factors)), 0.02)
    for k, g in enumerate(group):
        if g == "A" and "x" in factors:
            fnmi[k, list(factors).index("x")] = 0.8
        if g == "B" and "y" in factors:
            fnmi[k, list(factors).index("y")] = 0.7
    ds = xr.Dataset(
        {
            "nmi": (("a", "b"), nmi),
            "vi": (("a", "b"), vi),
            "i_joint": (("a", "b"), np.zeros((M, M))),
            "factor_nmi": (("a", "factor"), fnmi),
        },
        coords={
            "member": ("a", np.array(member)),
            "beta": ("a", np.array(beta)),
            "seed": ("a", np.array(seed_c)),
            "channel": ("a", np.array(channel)),
            "info_bits": ("a", np.array(info)),
            "self_info_bits": ("a", 2 * np.array(info)),
            "factor": ("factor", np.array(list(factors), dtype=str)),
        },
        attrs={"n_members": n_members},
    )
    return ds, group
