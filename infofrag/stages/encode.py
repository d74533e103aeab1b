"""Stage ``encode``: one member's posteriors (mu, logvar) on the fingerprint sample.

A trained member is encoded with its final checkpoint; an imported one with its own entry point
and checkpoint, or read from the posteriors file it came with (checked against the run's
sample: its size and digest)."""

from __future__ import annotations

from ..store import posteriors as posteriors_store
from ..store import sample as sample_store
from ..errors import StoreError
from ..measures import check_posteriors


def posteriors(member: dict, sample, model_path=None, imported_path=None):
    """(mu, logvar, where they came from) of the member on the sample."""
    kind = member.get("kind", "trained")
    if kind == "posteriors":
        from ..imported import read_posteriors

        mu, logvar = read_posteriors(imported_path, sample.n, sample.content_digest)
        return mu, logvar, imported_path
    if kind == "checkpoint":
        from ..imported import ImportedModel

        model = ImportedModel(imported_path, member["entry_point"], member["latent_dim"], member=member["name"])
        mu, logvar = model.encode(sample.x)
        return mu, logvar, imported_path
    from .. import train

    model, _ = train.load_model(model_path)
    mu, logvar = train.encode(model, sample.x)
    return mu, logvar, model_path


def run(sample_path, member: dict, out_store, model_path=None, imported_path=None, threads: int = 1) -> dict:
    """member: the member's params (a trained member's settings, or an imported member's source).
    A posteriors-only member needs no torch (its import is a third of such a job's time)."""
    if member.get("kind", "trained") != "posteriors":
        import torch

        torch.set_num_threads(threads)
    sample = sample_store.read(sample_path, check=False)  # verified by the job
    mu, logvar, source = posteriors(member, sample, model_path, imported_path)
    try:
        check_posteriors(mu, logvar, f"member {member['name']} ('{source}'), its posteriors on the fingerprint sample")
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    posteriors_store.write(out_store, mu, logvar, member["name"])
    return {"n_channels": int(mu.shape[1])}
