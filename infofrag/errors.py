"""The errors infofrag raises on bad input or damaged files; each message names the key or file.

One base class, :class:`InfofragError`, so a caller can catch everything the package refuses;
each subclass also derives from the built-in error a caller would expect (``ValueError`` for
bad input, ``RuntimeError`` for a broken chain of results).
"""

from __future__ import annotations

__all__ = ["InfofragError", "ConfigError", "DataFileError", "IntegrityError", "StoreError",
           "CheckpointError", "TrainingDivergedError"]


class InfofragError(Exception):
    """Base class of every error the package raises on purpose."""


class ConfigError(InfofragError, ValueError):
    """A config value is invalid; the message starts with the offending key."""


class DataFileError(InfofragError, ValueError):
    """A user data file is missing, unreadable or malformed (the message names the file)."""


class IntegrityError(InfofragError, RuntimeError):
    """A file is missing, unrecorded, or differs from what its producer recorded."""


class StoreError(IntegrityError):
    """A stored result cannot be read or has the wrong layout (the message names the file)."""


class CheckpointError(InfofragError, ValueError):
    """A checkpoint file is missing, truncated, corrupt or incomplete (the message names it)."""


class TrainingDivergedError(InfofragError, RuntimeError):
    """The loss became NaN/inf (the message names the member and the step)."""
