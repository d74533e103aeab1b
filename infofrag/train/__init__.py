"""Training members, reading their checkpoints, encoding with them.

:func:`train_member` (the deterministic, resumable loop, :mod:`.loop`), one learner per model
family (:data:`LEARNERS`, :mod:`.learners`: beta_vae, beta_tcvae, factor_vae, dip_vae_i,
dip_vae_ii, annealed_vae, infogan), :func:`load_model` (:mod:`.checkpoints`), :func:`encode`
(:mod:`.encoding`); batches and noise seeds in :mod:`.batches`.
"""

from ..errors import CheckpointError, TrainingDivergedError
from .batches import BATCH_BLOCK, batch_indices, init_seed, noise_seed
from .checkpoints import config_hash, load_model
from .encoding import encode
from .learners import LEARNERS, member_method, member_settings
from .loop import train_member

__all__ = ["CheckpointError", "TrainingDivergedError", "train_member", "load_model", "encode",
           "config_hash", "batch_indices", "noise_seed", "init_seed", "BATCH_BLOCK", "LEARNERS",
           "member_method", "member_settings"]
