"""Rule `hotspots`: OPTICS on the channel distances; table and figures (infofrag.stages.hotspots)."""
import _checkout  # noqa: F401  (this checkout's infofrag package, checked)
from infofrag.stages import hotspots
from infofrag.store.zarr_io import read_arrays
from infofrag.workflow import Job

i, p, out = snakemake.input, snakemake.params, snakemake.output
settings = p.key["settings"]
with Job(snakemake, config_used={"hotspots": settings}) as job:
    decoders = hotspots.decoder_files(p.decoders, list(i.models), list(i.imported))
    image_shape = read_arrays(i.sample, ("x",))["x"].shape[1:]
    job.extra.update(hotspots.run(i.similarity, decoders, list(i.posteriors), settings, dict(out.items()),
                                  snakemake.threads, image_shape=image_shape))
