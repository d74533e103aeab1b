"""Rule `fingerprint`: one channel's Bhattacharyya distances, information and factor NMI."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import numpy as np
import xarray as xr

import infofrag
from infofrag.store import finite, open_dataset, write_dataset
from infofrag.workflow import Job

with Job(snakemake) as job:
    c = int(snakemake.wildcards.channel)
    post = open_dataset(snakemake.input.posteriors)
    sample = open_dataset(snakemake.input.sample)
    mu = finite("mu", post["mu"].values[:, c:c + 1], snakemake.input.posteriors).astype(np.float64)
    logvar = finite("logvar", post["logvar"].values[:, c:c + 1], snakemake.input.posteriors).astype(np.float64)
    # Stored as float32; every number below is computed from the stored matrix, so shards
    # and the gathered store agree with the fingerprint exactly.
    D = infofrag.bhattacharyya(mu, logvar).astype(np.float32)
    terms = infofrag.similarity_terms(D[None])
    names = [str(f) for f in sample["factor"].values]
    if names:
        factor_D = infofrag.labels_to_distances(sample["factors"].values.T)
        factor_nmi, factor_vi = infofrag.similarity(D[None], factor_D)
        factor_nmi, factor_vi = factor_nmi[0], factor_vi[0]
    else:
        factor_nmi = factor_vi = np.zeros(0)
    attrs = {"member": post.attrs["member"], "beta": post.attrs["beta"], "seed": post.attrs["seed"],
             "channel": c, "info_bits": float(terms.i_a[0]), "self_info_bits": float(terms.i_aa[0])}
    store = xr.Dataset(
        {"distance": (("i", "j"), D),
         "mu": ("i", mu[:, 0].astype(np.float32)), "logvar": ("i", logvar[:, 0].astype(np.float32)),
         "factor_nmi": ("factor", np.asarray(factor_nmi, dtype=np.float64)),
         "factor_vi": ("factor", np.asarray(factor_vi, dtype=np.float64))},
        coords={"factor": np.array(names, dtype=str)}, attrs=attrs)
    write_dataset(snakemake.output.store, store)
    job.extra.update(info_bits=attrs["info_bits"])
