"""``similarity.zarr``: the gathered, labelled similarities of every pair of channels.

Variables: ``nmi``, ``vi`` (bits), ``i_joint`` (I(UV;X), bits) over (a, b), where a and b index
the same channels in member order, then channel index; ``bound`` (a, b): 0 where the pair was
computed, else the largest error (bits) of ``i_joint`` (twice it for ``vi``) of a pair with a channel
at or below the information threshold, whose ``nmi`` is NaN (attr ``bounded_below_bits``: the
threshold, or absent when every pair was computed); ``factor_nmi`` (a, factor).
Coords on a: channel_id, member, method, param (the swept hyperparameter), value (its value),
beta (the value where the method sweeps beta, else NaN), seed (-1 for an imported member),
channel, info_bits, self_info_bits. Per member (member_id): method, value, seed.
Written once, by the gather stage, with consolidated metadata (many readers).
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, open_lazy, strings, write_dataset

PAIR_VARIABLES = ("nmi", "vi", "i_joint", "bound")


def build(pairs: dict, fingerprints: list, members: dict, bounded_below=None):
    """The store as an xarray Dataset.

    pairs: {variable: [M, M] matrix} for :data:`PAIR_VARIABLES` (those absent are left out: see
    :func:`write_chunked`); fingerprints: each member's
    :class:`~infofrag.store.fingerprint.Fingerprints`, in member order (their channels, in order,
    are the store's); members: {member name: its labels, as :meth:`infofrag.config.Member.labels`
    gives them}, in member order; bounded_below: the threshold below which pairs were bounded.
    """
    import xarray as xr

    ids = [i for f in fingerprints for i in f.ids()]
    M = len(ids)
    factors = fingerprints[0].factor_names if fingerprints else []
    member_of = [f.member for f in fingerprints for _ in range(f.n_channels)]
    names = list(members)
    cat = lambda k: np.concatenate([np.asarray(getattr(f, k), dtype=np.float64) for f in fingerprints])  # noqa: E731
    attrs = {"n_members": len(names), "n_channels": M, "units_vi": "bits",
             "description": "Generalised NMI and VI (bits) between every pair of channels "
                            "(arXiv:2405.21042); a and b index the same channels."}
    if bounded_below is not None:
        attrs["bounded_below_bits"] = float(bounded_below)
    return xr.Dataset(
        {
            **{v: (("a", "b"), np.asarray(pairs[v], dtype=np.float64)) for v in PAIR_VARIABLES if v in pairs},
            "factor_nmi": (("a", "factor"), np.concatenate([f.factor_nmi for f in fingerprints]).reshape(M, len(factors))),
        },
        coords={
            "a": np.arange(M), "b": np.arange(M), "factor": strings(factors),
            "channel_id": ("a", strings(ids)),
            "member": ("a", strings(member_of)),
            **_member_coords("a", member_of, members),
            "channel": ("a", np.array([c for f in fingerprints for c in range(f.n_channels)], dtype=np.int64)),
            "info_bits": ("a", cat("info_bits")),
            "self_info_bits": ("a", cat("self_info_bits")),
            "member_id": strings(names),
            **{f"member_{k}": v for k, v in _member_coords("member_id", names, members).items()},
        },
        attrs=attrs,
    )


#: chunk of the pair variables (2,048 x 2,048 float64: 32 MiB); smaller matrices are one chunk
CHUNK = 2048


def write(path, ds) -> None:
    write_dataset(path, ds)


def write_chunked(path, ids: list, fingerprints: list, members: dict, matrix, bounded_below=None) -> None:
    """Write the store one pair variable at a time, atomically: ``matrix(variable)`` gives that
    variable's ``[M, M]`` matrix (memory-mapped, say), which is written in chunks of
    :data:`CHUNK` and released before the next; then the rest and consolidated metadata."""
    import warnings

    import xarray as xr
    import zarr
    from zarr.errors import UnstableSpecificationWarning

    from ..atomic import atomic_path

    M = len(ids)
    small = build({}, fingerprints, members, bounded_below)
    chunk = (min(CHUNK, max(M, 1)),) * 2
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        warnings.filterwarnings("ignore", category=UnstableSpecificationWarning)
        for k, v in enumerate(PAIR_VARIABLES):
            mat = matrix(v)
            xr.Dataset({v: (("a", "b"), mat)}).to_zarr(tmp, mode="a" if k else "w", consolidated=False,
                                                        encoding={v: {"chunks": chunk}})
            del mat
        small.to_zarr(tmp, mode="a", consolidated=False)  # last: its attributes are the group's
        zarr.consolidate_metadata(str(tmp))


def read(path, check: bool = True, lazy: bool = False):
    """The store as an xarray Dataset: in memory, or (``lazy``) read where indexed -- what the
    stages that need a few columns or the informative channels' submatrix use."""
    return open_lazy(path, check=check) if lazy else open_dataset(path, check=check)


def _member_coords(dim: str, names: list, members: dict) -> dict:
    """method, param, value, beta, seed of each of ``names`` along ``dim``."""
    lab = [members[m] for m in names]
    value = np.array([np.nan if x["value"] is None else x["value"] for x in lab], dtype=np.float64)
    return {
        "method": (dim, strings([x["method"] for x in lab])),
        "param": (dim, strings([x["param"] or "" for x in lab])),
        "value": (dim, value),
        "beta": (dim, np.where([x["param"] == "beta" for x in lab], value, np.nan)),
        "seed": (dim, np.array([-1 if x["seed"] is None else x["seed"] for x in lab], dtype=np.int64)),
    }
