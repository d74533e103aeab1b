"""``similarity.zarr``: the gathered, labelled similarities of every pair of channels.

Variables: ``nmi``, ``vi`` (bits), ``i_joint`` (I(UV;X), bits) over (a, b), where a and b index
the same channels in member order, then channel index; ``factor_nmi`` (a, factor); per member
(dim ``member_id``) the disentanglement scores that every member has (mig, sap, dci_*).
Coords on a: channel_id, member, method, param (the swept hyperparameter), value (its value),
beta (the value where the method sweeps beta, else NaN), seed (-1 for an imported member),
channel, info_bits, self_info_bits. Per member (member_id): method, value, seed.
Written once, by the gather stage, with consolidated metadata (many readers).
"""

from __future__ import annotations

import numpy as np

from .zarr_io import open_dataset, strings, write_dataset

PAIR_VARIABLES = ("nmi", "vi", "i_joint")
SCORE_KEYS = ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness")


def build(ids: list, pairs: dict, fingerprints: dict, members: dict, scores: dict):
    """The store as an xarray Dataset.

    ids: channel ids in store order; pairs: {variable: [M, M] matrix} for :data:`PAIR_VARIABLES`;
    fingerprints: {channel id: Fingerprint}; members: {member name: its labels, as
    :meth:`infofrag.config.Member.labels` gives them}, in member order; scores: {member name:
    scores dict}.
    """
    import xarray as xr

    M = len(ids)
    fps = [fingerprints[k] for k in ids]
    factors = fps[0].factor_names if fps else []
    member_of = [f.member for f in fps]
    names = list(members)
    score_vars = {}
    for key in SCORE_KEYS:
        vals = [scores.get(m, {}).get(key) for m in names]
        if vals and all(isinstance(v, (int, float)) for v in vals):
            score_vars[key] = ("member_id", np.array(vals, dtype=np.float64))
    return xr.Dataset(
        {
            **{v: (("a", "b"), np.asarray(pairs[v], dtype=np.float64)) for v in PAIR_VARIABLES},
            "factor_nmi": (("a", "factor"), np.stack([f.factor_nmi for f in fps]).reshape(M, len(factors))),
            **score_vars,
        },
        coords={
            "a": np.arange(M), "b": np.arange(M), "factor": strings(factors),
            "channel_id": ("a", strings(ids)),
            "member": ("a", strings(member_of)),
            **_member_coords("a", member_of, members),
            "channel": ("a", np.array([f.channel for f in fps], dtype=np.int64)),
            "info_bits": ("a", np.array([f.info_bits for f in fps], dtype=np.float64)),
            "self_info_bits": ("a", np.array([f.self_info_bits for f in fps], dtype=np.float64)),
            "member_id": strings(names),
            **{f"member_{k}": v for k, v in _member_coords("member_id", names, members).items()},
        },
        attrs={"n_members": len(names), "n_channels": M, "units_vi": "bits",
               "description": "Generalised NMI and VI (bits) between every pair of channels "
                              "(arXiv:2405.21042); a and b index the same channels."},
    )


def write(path, ds) -> None:
    write_dataset(path, ds)


def read(path, check: bool = True):
    return open_dataset(path, check=check)


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
