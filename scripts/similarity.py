"""Rule `similarity`: NMI, VI and joint information for all channel pairs of one block pair."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import numpy as np
import torch
import xarray as xr

import infofrag
from infofrag.store import open_dataset, write_dataset
from infofrag.workflow import Job


def load(paths):
    stores = [open_dataset(p, check=False) for p in paths]  # digests checked by Job on entry
    ids = [f"{s.attrs['member']}/{s.attrs['channel']}" for s in stores]
    return np.stack([s["distance"].values for s in stores]), ids


with Job(snakemake) as job:
    torch.set_num_threads(snakemake.threads)
    rows, cols = list(snakemake.params.rows), list(snakemake.params.cols)
    Da, a_ids = load(rows)
    if rows == cols:
        nmi, vi, terms = infofrag.similarity(Da, return_terms=True)
        b_ids = a_ids
    else:
        Db, b_ids = load(cols)
        nmi, vi, terms = infofrag.similarity(Da, Db, return_terms=True)
    store = xr.Dataset(
        {"nmi": (("a", "b"), np.asarray(nmi, np.float64)), "vi": (("a", "b"), np.asarray(vi, np.float64)),
         "i_joint": (("a", "b"), np.asarray(terms.i_ab, np.float64))},
        coords={"a": np.array(a_ids, dtype=str), "b": np.array(b_ids, dtype=str)},
        attrs={"block_a": snakemake.wildcards.block_a, "block_b": snakemake.wildcards.block_b})
    write_dataset(snakemake.output.store, store)
