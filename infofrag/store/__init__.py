"""Storage: the Zarr layouts of the pipeline, each in one module with its writer and reader.

``sample`` (the fingerprint sample), ``posteriors`` (a member's posteriors), ``fingerprint``
(a member's compact fingerprints), ``shard`` (one block pair), ``similarity`` (the gathered
store), ``fused`` (the fused representation), ``spaces`` (whole latent spaces: shards and the
gathered store); generic reading and writing in :mod:`.zarr_io`.

Import the layouts a module uses (``from infofrag.store import fused``): this package imports
none of them itself, so that a rule's code digest covers exactly the layouts it reads and writes
(a change to ``fused`` reruns the fusion, not training). ``infofrag.store.<layout>`` attribute
access still works (loaded on first use).
"""

import importlib

from ..errors import StoreError
from .zarr_io import finite, open_dataset, require, strings, write_dataset

LAYOUTS = ("fingerprint", "fused", "posteriors", "sample", "shard", "similarity", "spaces")

__all__ = ["StoreError", *LAYOUTS, "finite", "open_dataset", "require", "strings", "write_dataset"]


def __getattr__(name):
    if name in LAYOUTS:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'infofrag.store' has no attribute {name!r}")
