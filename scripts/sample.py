"""Rule `sample`: draw the fingerprint sample once and store it with its factor labels."""
import _checkout  # noqa: F401  (this checkout's infofrag package first on sys.path)
import numpy as np
import xarray as xr

from infofrag import data
from infofrag.store import write_dataset
from infofrag.workflow import Job

p = snakemake.params
with Job(snakemake, config_used={"dataset": p.dataset, "sample": p.sample}) as job:
    dataset = data.make_dataset(dict(p.dataset))
    s = data.draw_sample(dataset, p.sample["n_points"], p.sample["seed"])
    x_dims = ("sample",) + tuple(f"x{k}" for k in range(s["x"].ndim - 1))
    names = [str(n) for n in s["factor_names"]]
    store = xr.Dataset(
        {
            "x": (x_dims, s["x"].astype(np.float32)),
            "factors": (("sample", "factor"), s["factors"].astype(np.int64).reshape(len(s["x"]), len(names))),
            "indices": ("sample", s["indices"].astype(np.int64)),
        },
        coords={"factor": np.array(names, dtype=str)},
        attrs={"dataset": dataset.name, "likelihood": dataset.likelihood,
               "input_shape": list(dataset.input_shape), "dataset_size": int(dataset.n),
               "factor_sizes": [int(v) for v in getattr(dataset, "factor_sizes", ())]},
    )
    write_dataset(snakemake.output.store, store)
    job.extra.update(n_points=len(s["x"]), dataset_size=int(dataset.n))
