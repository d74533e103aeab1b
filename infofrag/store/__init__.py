"""Storage: the Zarr layouts of the pipeline, each in one module with its writer and reader.

``sample`` (the fingerprint sample), ``posteriors`` (a member's posteriors), ``fingerprint``
(one channel), ``shard`` (one block pair), ``similarity`` (the gathered store), ``fused`` (the
fused representation), ``spaces`` (whole latent spaces: shards and the gathered store); generic reading and writing in :mod:`.zarr_io`.
"""

from ..errors import StoreError
from . import fingerprint, fused, posteriors, sample, shard, similarity, spaces
from .zarr_io import finite, open_dataset, require, strings, write_dataset

__all__ = ["StoreError", "fingerprint", "fused", "posteriors", "sample", "shard", "similarity", "spaces",
           "finite", "open_dataset", "require", "strings", "write_dataset"]
