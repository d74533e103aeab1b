"""Rule `encode`: the member's posteriors (mu, logvar) on the fingerprint sample."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import numpy as np
import torch
import xarray as xr

from infofrag import train
from infofrag.store import StoreError, open_dataset, write_dataset
from infofrag.workflow import Job

member = dict(snakemake.params.member)
with Job(snakemake, config_used={f"member:{member['name']}": member}) as job:
    torch.set_num_threads(snakemake.threads)
    model, meta = train.load_model(snakemake.input.model)
    sample = open_dataset(snakemake.input.sample)
    mu, logvar = train.encode(model, sample["x"].values)
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise StoreError(f"'{snakemake.input.model}': the encoder of member {member['name']} gives "
                         "NaN/inf posteriors on the fingerprint sample")
    store = xr.Dataset(
        {"mu": (("sample", "channel"), mu.astype(np.float32)),
         "logvar": (("sample", "channel"), logvar.astype(np.float32))},
        coords={"channel": np.arange(mu.shape[1])},
        attrs={"member": member["name"], "beta": float(member["beta"]), "seed": int(member["seed"])},
    )
    write_dataset(snakemake.output.store, store)
