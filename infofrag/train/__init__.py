"""Training members, reading their checkpoints, encoding with them.

:func:`train_member` (the deterministic, resumable loop, :mod:`.loop`), :func:`load_model`
(:mod:`.checkpoints`), :func:`encode` (:mod:`.encoding`); batches and noise seeds in
:mod:`.batches`.
"""

from ..errors import CheckpointError, TrainingDivergedError
from .batches import BATCH_BLOCK, batch_indices, noise_seed
from .checkpoints import config_hash, load_model
from .encoding import encode
from .loop import train_member

__all__ = ["CheckpointError", "TrainingDivergedError", "train_member", "load_model", "encode",
           "config_hash", "batch_indices", "noise_seed", "BATCH_BLOCK"]
