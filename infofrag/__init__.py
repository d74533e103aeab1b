"""infofrag: the information content of probabilistic representation spaces.

Each latent channel of a VAE is a soft clustering of the data. A channel is
fingerprinted by the Bhattacharyya distances between the posteriors of a fixed
sample of data points; channels are compared with generalised NMI and VI
(Murphy, Dillavou & Bassett, arXiv:2405.21042).

The estimators are exported at the top level and imported lazily, so that
light-weight tools (config checks, audits) do not pay for importing torch.
"""

__version__ = "0.1.0"

_LAZY = {
    "bhattacharyya": "infofrag.estimators",
    "information": "infofrag.estimators",
    "similarity": "infofrag.estimators",
    "similarity_terms": "infofrag.estimators",
    "labels_to_distances": "infofrag.estimators",
    "monte_carlo": "infofrag.montecarlo",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'infofrag' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
