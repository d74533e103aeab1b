"""Whole latent spaces compared, member against member: one shard per block pair and the
gathered store ``spaces.zarr``.

``spaces/shards/<A>__<B>.zarr`` (one block pair): variables over (m, n), m the members of
block A and n those of block B that have Monte Carlo estimates (coords: member names; a block
against itself holds both orders): :data:`PAIR_VARIABLES` with their ``_se`` (Monte Carlo: mean
of the repeats and its standard error), NaN for the pairs not estimated, and ``monte_carlo``
(bool: which pairs are). Attrs block_a, block_b, samples, repeats, seed, n_points.

``spaces.zarr`` (gathered): the same variables over (m, n), both indexing the members in member
order (integer positions); the Monte Carlo variables where ``monte_carlo`` (m, n) is true (the
pairs ``spaces.monte_carlo_members`` chose; NaN elsewhere), the fingerprint estimate (fp_*) for
every pair; symmetric, with I(U;X) of (m, n) the I(V;X) of (n, m) (on the
diagonal, a member against itself, i_u and i_v are two estimates of its information from
independent draws); coords on m: member, method, param, value, seed (as in
``similarity.zarr``: param "" and value NaN where a member sweeps nothing, seed -1 for an
imported member), latent_dim, group_id
(position on dim ``group``), info_bits and info_bits_se (I(U;X) of the member's whole space, the
diagonal's i_u), fp_info_bits. On dim ``group`` (all members of one method and value): coords
group_method, group_param, group_value, group_size, group_best (the member with the most
information); variables group_info (I(X;concatenation of the group's spaces)), group_best_info,
group_excess (group_info - group_best_info, from the same draws), each with ``_se``;
group_consistency and its ``_se`` (mean off-diagonal NMI within the group), group_fp_info,
group_fp_best_info, group_fp_consistency (the Monte Carlo group values over the group's members
with Monte Carlo estimates, group_fp_consistency over all its members). ``collapsed`` (m): the
member's whole space carries no information it can be told to carry (its Monte Carlo I(U;X) at
most the sample's resolution, attr collapsed_below_bits, or within three standard errors of 0;
for a member without Monte Carlo estimates, its fingerprint information at most the
resolution): its NMI with any member, in both estimates, is NaN, and its group's consistency
leaves it out. Attrs: samples, repeats, seed, n_points, log2_n (the ceiling of every information
here), collapsed_below_bits, monte_carlo_members (``all`` or the members per group),
monte_carlo_pairs (how many unordered pairs have estimates), n_members, n_groups, description.
Information in bits.
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, require, strings, write_dataset

#: Monte Carlo terms of a pair (U = member m, V = member n), each also with ``<name>_se``:
#: NMI, VI, I(U;X), I(V;X), the two-draw terms I(UU';X), I(VV';X), I(UV;X), I(U;V)
PAIR_VARIABLES = ("nmi", "vi", "i_u", "i_v", "i_uu", "i_vv", "i_joint", "shared")
#: the same terms from the whole-space Bhattacharyya fingerprints
FP_VARIABLES = tuple(f"fp_{v}" for v in PAIR_VARIABLES)
#: the Monte Carlo variables of a shard, each pair's value and standard error
MC_VARIABLES = PAIR_VARIABLES + tuple(f"{v}_se" for v in PAIR_VARIABLES)
#: every (m, n) number of the gathered store
ALL_PAIR_VARIABLES = MC_VARIABLES + FP_VARIABLES
_SWAP = {"i_u": "i_v", "i_v": "i_u", "i_uu": "i_vv", "i_vv": "i_uu"}
#: per group (dim ``group``)
GROUP_VARIABLES = ("group_info", "group_info_se", "group_best_info", "group_best_info_se",
                   "group_excess", "group_excess_se", "group_consistency", "group_consistency_se",
                   "group_fp_info", "group_fp_best_info", "group_fp_consistency")


def mirrored(name: str) -> str:
    """The variable that holds ``name`` of the pair (n, m): I(U;X) of (m, n) is I(V;X) of (n, m)."""
    fp = name.startswith("fp_")
    base = name[3:] if fp else name
    se = base.endswith("_se")
    base = base[:-3] if se else base
    out = _SWAP.get(base, base)
    return ("fp_" if fp else "") + out + ("_se" if se else "")


def write_shard(path, values: dict, estimated, m_names, n_names, block_a: str, block_b: str, attrs: dict) -> None:
    """``values``: {variable: [len(m_names), len(n_names)]} for every :data:`MC_VARIABLES`;
    ``estimated``: which pairs have them (bool, same shape)."""
    import xarray as xr

    data = {v: (("m", "n"), np.asarray(values[v], dtype=np.float64)) for v in MC_VARIABLES}
    data["monte_carlo"] = (("m", "n"), np.asarray(estimated, dtype=bool))
    ds = xr.Dataset(data, coords={"m": strings(m_names), "n": strings(n_names)},
                    attrs={"block_a": block_a, "block_b": block_b, **attrs})
    write_dataset(path, ds)


def read_shard(path, check: bool = True):
    """A shard as an xarray Dataset (coords m, n: member names)."""
    ds = open_dataset(path, check=check)
    require(ds, path, MC_VARIABLES + ("monte_carlo",))
    return ds


def build(members: list, labels: dict, latent_dims: dict, pairs: dict, groups: list, attrs: dict,
          collapsed=None, monte_carlo=None):
    """The gathered store as an xarray Dataset.

    members: names in member order; labels: {name: Member.labels()}; latent_dims: {name: d};
    pairs: {variable: [M, M]} for every :data:`ALL_PAIR_VARIABLES`; groups: one dict per group
    with method, param, value, members (names), best, and every :data:`GROUP_VARIABLES`.
    """
    import xarray as xr

    M = len(members)
    group_of = {name: k for k, g in enumerate(groups) for name in g["members"]}
    diag = np.arange(M)
    data = {v: (("m", "n"), np.asarray(pairs[v], dtype=np.float64)) for v in ALL_PAIR_VARIABLES}
    data.update({v: ("group", np.array([g[v] for g in groups], dtype=np.float64)) for v in GROUP_VARIABLES})
    data["monte_carlo"] = (("m", "n"), np.ones((M, M), bool) if monte_carlo is None else np.asarray(monte_carlo, bool))
    return xr.Dataset(
        data,
        coords={
            "m": diag, "n": diag, "group": np.arange(len(groups)),
            "member": ("m", strings(members)),
            "method": ("m", strings([labels[m]["method"] for m in members])),
            "param": ("m", strings([labels[m]["param"] or "" for m in members])),
            "value": ("m", _values([labels[m]["value"] for m in members])),
            "seed": ("m", np.array([-1 if labels[m]["seed"] is None else labels[m]["seed"] for m in members],
                                   dtype=np.int64)),
            "latent_dim": ("m", np.array([latent_dims[m] for m in members], dtype=np.int64)),
            "group_id": ("m", np.array([group_of[m] for m in members], dtype=np.int64)),
            "info_bits": ("m", np.asarray(pairs["i_u"], dtype=np.float64)[diag, diag]),
            "info_bits_se": ("m", np.asarray(pairs["i_u_se"], dtype=np.float64)[diag, diag]),
            "fp_info_bits": ("m", np.asarray(pairs["fp_i_u"], dtype=np.float64)[diag, diag]),
            "collapsed": ("m", np.zeros(M, bool) if collapsed is None else np.asarray(collapsed, dtype=bool)),
            "group_method": ("group", strings([g["method"] for g in groups])),
            "group_param": ("group", strings([g["param"] or "" for g in groups])),
            "group_value": ("group", _values([g["value"] for g in groups])),
            "group_size": ("group", np.array([len(g["members"]) for g in groups], dtype=np.int64)),
            "group_best": ("group", strings([g["best"] for g in groups])),
        },
        attrs={**attrs, "n_members": M, "n_groups": len(groups), "units": "bits",
               "description": "Whole latent spaces compared, member against member (arXiv:2405.21042, "
                              "section 4.3): Monte Carlo NMI, VI and information terms with standard "
                              "errors, the Bhattacharyya-fingerprint estimate (fp_*) beside them; m and n "
                              "index the same members; per group, the concatenated space's information."},
    )


def _values(values) -> np.ndarray:
    """Swept values as float64, NaN where a member has none (an imported member)."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def write(path, ds) -> None:
    write_dataset(path, ds)


def read(path, check: bool = True):
    """``spaces.zarr`` as an xarray Dataset."""
    ds = open_dataset(path, check=check)
    require(ds, path, ALL_PAIR_VARIABLES + GROUP_VARIABLES)
    return ds
