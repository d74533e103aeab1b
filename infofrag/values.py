"""Plain values: what goes into JSON files, records and Snakemake params."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["finite_or_none", "plain", "canonical"]


def finite_or_none(x):
    """A float, or ``None`` for ``None``, NaN and +-inf (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def plain(obj):
    """Nested config values as plain Python: numpy scalars -> int/float, tuples -> lists,
    anything else unknown -> its ``str``."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def canonical(obj):
    """:func:`plain` with every mapping's keys in sorted order, recursively.

    Snakemake compares params by their text, so a param built from a config section must not
    depend on the order in which the user's file lists the keys.
    """
    obj = plain(obj)
    if isinstance(obj, dict):
        return {k: canonical(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list):
        return [canonical(v) for v in obj]
    return obj
