"""Rule `gather`: assemble the similarity shards into results/similarity.zarr (xarray over Zarr)."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import json

import numpy as np
import xarray as xr

from infofrag.store import StoreError, open_dataset, write_dataset
from infofrag.workflow import Job

p = snakemake.params
with Job(snakemake) as job:
    ids = [f"{m}/{c}" for m, n in p.n_channels.items() for c in range(n)]
    pos = {k: i for i, k in enumerate(ids)}
    M = len(ids)
    mats = {v: np.full((M, M), np.nan) for v in ("nmi", "vi", "i_joint")}
    for path in snakemake.input.shards:
        shard = open_dataset(path, check=False)  # digests checked by Job on entry
        ia = np.array([pos[a] for a in shard["a"].values])
        ib = np.array([pos[b] for b in shard["b"].values])
        for v, mat in mats.items():
            block = shard[v].values
            mat[np.ix_(ia, ib)] = block
            mat[np.ix_(ib, ia)] = block.T
    for v, mat in mats.items():
        holes = np.argwhere(np.isnan(mat))
        if len(holes):
            a, b = holes[0]
            raise StoreError(f"gather: {len(holes)} channel pair(s) have no {v} value (first: "
                             f"{ids[a]} x {ids[b]}); a similarity shard is missing or incomplete")

    fps = {}
    for path in snakemake.input.fingerprints:
        fp = open_dataset(path, check=False)
        fps[f"{fp.attrs['member']}/{fp.attrs['channel']}"] = fp
    missing = [k for k in ids if k not in fps]
    if missing:
        raise StoreError(f"gather: no fingerprint for channel(s) {missing[:5]}")
    fp0 = fps[ids[0]]
    factors = [str(f) for f in fp0["factor"].values]
    members = [k.split("/")[0] for k in ids]
    cfg = {m: dict(c) for m, c in p.members.items()}
    scores = {}
    for path in snakemake.input.scores:
        with open(path) as fh:
            s = json.load(fh)
        scores[s["member"]] = s
    member_names = list(p.n_channels)
    score_vars = {}
    for key in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        vals = [scores.get(m, {}).get(key) for m in member_names]
        if all(isinstance(v, (int, float)) for v in vals):
            score_vars[key] = ("member_id", np.array(vals, dtype=np.float64))

    ds = xr.Dataset(
        {
            "nmi": (("a", "b"), mats["nmi"]),
            "vi": (("a", "b"), mats["vi"]),
            "i_joint": (("a", "b"), mats["i_joint"]),
            "factor_nmi": (("a", "factor"), np.stack([fps[k]["factor_nmi"].values for k in ids])
                           .reshape(M, len(factors))),
            **score_vars,
        },
        coords={
            "a": np.arange(M), "b": np.arange(M), "factor": np.array(factors, dtype=str),
            "channel_id": ("a", np.array(ids, dtype=str)),
            "member": ("a", np.array(members, dtype=str)),
            "beta": ("a", np.array([cfg[m]["beta"] for m in members], dtype=np.float64)),
            "seed": ("a", np.array([cfg[m]["seed"] for m in members], dtype=np.int64)),
            "channel": ("a", np.array([int(k.split("/")[1]) for k in ids], dtype=np.int64)),
            "info_bits": ("a", np.array([fps[k].attrs["info_bits"] for k in ids], dtype=np.float64)),
            "self_info_bits": ("a", np.array([fps[k].attrs["self_info_bits"] for k in ids], dtype=np.float64)),
            "member_id": np.array(member_names, dtype=str),
        },
        attrs={"n_members": len(member_names), "n_channels": M, "units_vi": "bits",
               "description": "Generalised NMI and VI (bits) between every pair of channels "
                              "(arXiv:2405.21042); a and b index the same channels."},
    )
    write_dataset(snakemake.output.store, ds, consolidated=True)  # once, here (read by many)
    job.extra.update(n_channels=M, n_members=len(member_names))
